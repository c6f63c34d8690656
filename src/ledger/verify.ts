import type { KeyObject } from 'node:crypto';
import { GENESIS_HASH, hashRecord } from './chain.js';
import {
  checkSignature,
  trustedKeys,
  type SignatureStatus,
  type TrustedKeys,
} from './checkpoint.js';
import type { ChainRecord, LedgerCheckpoint } from './evidence.js';

/** Stable codes of what verification can find. */
export const VerifyProblemCode = {
  /** A record's content no longer matches its hash: it was edited. */
  hashMismatch: 'SHIP_LEDGER_HASH_MISMATCH',
  /** Sequence numbers have a gap, a duplicate or go backwards: records deleted, inserted or moved. */
  sequence: 'SHIP_LEDGER_SEQUENCE',
  /** A record's prevHash is not the previous record's hash. */
  chainBroken: 'SHIP_LEDGER_CHAIN_BROKEN',
  /** A checkpoint's signature does not verify with the key its key id names. */
  badSignature: 'SHIP_LEDGER_BAD_SIGNATURE',
  /** A checkpoint names a key that is not trusted. */
  unknownKey: 'SHIP_LEDGER_UNKNOWN_KEY',
  /** A validly signed checkpoint disagrees with the chain: the chain was rewritten. */
  checkpointMismatch: 'SHIP_LEDGER_CHECKPOINT_MISMATCH',
  /** A validly signed checkpoint lies beyond the last record: records were cut off the end. */
  truncated: 'SHIP_LEDGER_TRUNCATED',
  /** Records after the last valid checkpoint, which no signature vouches for. */
  unsignedTail: 'SHIP_LEDGER_UNSIGNED_TAIL',
  /** A stored record cannot be read at all (not JSON, missing fields) or disagrees with its row. */
  badRecord: 'SHIP_LEDGER_BAD_RECORD',
} as const;
export type VerifyProblemCode = (typeof VerifyProblemCode)[keyof typeof VerifyProblemCode];

/** Where a checkpoint came from. */
export type CheckpointSource = 'database' | 'export' | 'witness';

export interface VerifyProblem {
  code: VerifyProblemCode;
  /** The record (or the checkpoint's record) concerned. */
  seq?: number;
  source?: CheckpointSource;
  message: string;
}

export interface VerifyReport {
  /** True when no problem was found. A failed verification exits with ExitCode.ledgerTampered. */
  ok: boolean;
  /** Records examined. */
  records: number;
  /** Checkpoints from the database or the export; `valid` = signature good and matches the chain. */
  checkpoints: { total: number; valid: number };
  /** Checkpoints from the witness file, or null when there was none. */
  witness: { total: number; valid: number } | null;
  /** The last record (seq 0 and the genesis hash when the ledger is empty). */
  head: { seq: number; hash: string };
  /** Highest seq covered by a valid checkpoint; 0 when none (or signatures were not checked). */
  signedThrough: number;
  /** Whether a public key was given and signatures were checked. */
  signaturesChecked: boolean;
  /** The first problems found (at most MAX_REPORTED_PROBLEMS). */
  problems: VerifyProblem[];
  /** Problems found beyond those listed. */
  problemsOmitted: number;
  warnings: string[];
}

export interface VerifyOptions {
  /** Trusted public key(s). Without one only the hash chain is checked. */
  publicKey?: KeyObject | readonly KeyObject[];
  /**
   * Records after the last valid checkpoint that are only a warning: `true` for any number,
   * a number for at most that many (a ledger that signs every N records legitimately has up
   * to N-1), `false` or 0 for none.
   * @default false. Checkpoints are written in the same transaction as their record, so a
   * longer tail only appears after tampering or an append without the signing key.
   */
  allowUnsignedTail?: boolean | number;
}

/** Problems listed in a report; the rest are counted in `problemsOmitted`. */
export const MAX_REPORTED_PROBLEMS = 100;

interface SeenCheckpoint {
  checkpoint: LedgerCheckpoint;
  source: CheckpointSource;
  status: SignatureStatus | 'unchecked';
}

/**
 * Verifies a ledger fed to it piece by piece, so callers can stream records from a database
 * or a file: `addCheckpoint` and `addRecord` in any interleaving (records in chain order),
 * then `finish()`. Memory grows with one hash per record, not with record bodies.
 */
export class LedgerVerifier {
  readonly #keys: TrustedKeys | undefined;
  /** Unsigned records tolerated at the end. */
  readonly #tolerated: number;
  readonly #hashBySeq = new Map<number, string>();
  readonly #checkpoints: SeenCheckpoint[] = [];
  readonly #problems: VerifyProblem[] = [];
  readonly #warnings: string[] = [];
  #problemsOmitted = 0;
  #records = 0;
  #prev: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH };
  #maxSeq = 0;
  #witnessGiven = false;

  constructor(options: VerifyOptions = {}) {
    const keys =
      options.publicKey === undefined
        ? []
        : Array.isArray(options.publicKey)
          ? (options.publicKey as readonly KeyObject[])
          : [options.publicKey as KeyObject];
    this.#keys = keys.length === 0 ? undefined : trustedKeys(keys);
    const allow = options.allowUnsignedTail ?? false;
    this.#tolerated = allow === true ? Infinity : allow === false ? 0 : Math.max(0, allow);
  }

  /** Adds the next record in chain order (ascending seq as stored). */
  addRecord(record: ChainRecord): void {
    let computed: string;
    try {
      computed = hashRecord(record);
    } catch (error) {
      // Content with no canonical form (a lone surrogate smuggled in as \ud800) was never hashed by us.
      this.addUnreadableRecord(record, error instanceof Error ? error.message : String(error));
      return;
    }
    this.#records += 1;
    this.#checkSequence(record.seq);
    if (computed !== record.hash) {
      this.problem({
        code: VerifyProblemCode.hashMismatch,
        seq: record.seq,
        message: `Record ${record.seq} does not match its hash: its content was changed after it was appended.`,
      });
    }
    this.#link(record.seq, record.prevHash, record.hash, computed);
  }

  /**
   * Adds a record that could not be read (corrupt JSON, missing fields). It still takes part in
   * the sequence and link checks with the hashes stored beside it.
   */
  addUnreadableRecord(row: { seq: number; prevHash: string; hash: string }, reason: string): void {
    this.#records += 1;
    this.#checkSequence(row.seq);
    this.problem({
      code: VerifyProblemCode.badRecord,
      seq: row.seq,
      message: `Record ${row.seq} cannot be read: ${reason}.`,
    });
    this.#link(row.seq, row.prevHash, row.hash, undefined);
  }

  /** Adds a checkpoint; its signature is checked now, its agreement with the chain at finish. */
  addCheckpoint(checkpoint: LedgerCheckpoint, source: CheckpointSource): void {
    const status = this.#keys ? checkSignature(checkpoint, this.#keys) : 'unchecked';
    this.#checkpoints.push({ checkpoint, source, status });
  }

  /** Records a problem found outside the chain itself (e.g. a row that disagrees with its record). */
  problem(problem: VerifyProblem): void {
    if (this.#problems.length < MAX_REPORTED_PROBLEMS) this.#problems.push(problem);
    else this.#problemsOmitted += 1;
  }

  warn(message: string): void {
    this.#warnings.push(message);
  }

  /** Matches checkpoints against the chain and returns the report. */
  finish(): VerifyReport {
    let signedThrough = 0;
    const counts = {
      database: { total: 0, valid: 0 },
      export: { total: 0, valid: 0 },
      witness: { total: 0, valid: 0 },
    };
    for (const seen of this.#checkpoints) {
      const { checkpoint: cp, source } = seen;
      counts[source].total += 1;
      const where = source === 'witness' ? 'witness checkpoint' : 'checkpoint';
      if (seen.status === 'unknown-key') {
        this.problem({
          code: VerifyProblemCode.unknownKey,
          seq: cp.seq,
          source,
          message: `The ${where} at seq ${cp.seq} is signed by key ${cp.keyId}, which is not a trusted key.`,
        });
        continue;
      }
      if (seen.status === 'bad-signature') {
        this.problem({
          code: VerifyProblemCode.badSignature,
          seq: cp.seq,
          source,
          message: `The ${where} at seq ${cp.seq} has a signature that does not verify with key ${cp.keyId}.`,
        });
        continue;
      }
      if (cp.seq > this.#maxSeq) {
        this.problem({
          code: VerifyProblemCode.truncated,
          seq: cp.seq,
          source,
          message: `The ${where} at seq ${cp.seq} lies beyond the last record (seq ${this.#maxSeq}): records were removed from the end.`,
        });
        continue;
      }
      const actual = this.#hashBySeq.get(cp.seq);
      if (actual !== cp.headHash) {
        this.problem({
          code: VerifyProblemCode.checkpointMismatch,
          seq: cp.seq,
          source,
          message:
            actual === undefined
              ? `The ${where} at seq ${cp.seq} covers a record that is missing or unreadable.`
              : `The ${where} at seq ${cp.seq} disagrees with the chain: the history up to record ${cp.seq} was rewritten.`,
        });
        continue;
      }
      if (seen.status === 'valid') {
        counts[source].valid += 1;
        signedThrough = Math.max(signedThrough, cp.seq);
      }
    }

    const hasWitness = counts.witness.total > 0 || this.#witnessGiven;
    this.#warnAboutWitnessOnly();
    if (!this.#keys) {
      this.warn(
        'Signatures were not checked (no public key given): only the hash chain was verified, ' +
          'which does not detect a consistent rewrite of the whole history.',
      );
    } else if (this.#prev.seq > signedThrough && this.#records > 0) {
      const from = signedThrough + 1;
      const message = `Records ${from}..${this.#prev.seq} are not covered by any valid signed checkpoint.`;
      if (this.#prev.seq - signedThrough <= this.#tolerated) this.warn(message);
      else
        this.problem({
          code: VerifyProblemCode.unsignedTail,
          seq: from,
          message: `${message} Checkpoints are written with their records, so this tail was appended without the signing key or altered.`,
        });
    }

    const total = this.#problems.length + this.#problemsOmitted;
    return {
      ok: total === 0,
      records: this.#records,
      checkpoints: {
        total: counts.database.total + counts.export.total,
        valid: counts.database.valid + counts.export.valid,
      },
      witness: hasWitness ? counts.witness : null,
      head: { seq: this.#prev.seq, hash: this.#prev.hash },
      signedThrough: this.#keys ? signedThrough : 0,
      signaturesChecked: this.#keys !== undefined,
      problems: [...this.#problems],
      problemsOmitted: this.#problemsOmitted,
      warnings: [...this.#warnings],
    };
  }

  /** Marks that a witness was consulted, so the report shows it even when it was empty. */
  witnessConsulted(): void {
    this.#witnessGiven = true;
  }

  /**
   * A witness checkpoint missing from the database is expected for the last append or so (a
   * crash between commit and the witness write loses only the witness line, never the
   * reverse), but many of them mean stored checkpoints were deleted.
   */
  #warnAboutWitnessOnly(): void {
    const witness = this.#checkpoints.filter((seen) => seen.source === 'witness');
    if (witness.length === 0) return;
    const stored = new Set(
      this.#checkpoints
        .filter((seen) => seen.source !== 'witness')
        .map((seen) => seen.checkpoint.signature),
    );
    const missing = witness.filter((seen) => !stored.has(seen.checkpoint.signature)).length;
    if (missing > 0) {
      this.warn(
        `${missing} of ${witness.length} witness checkpoint(s) are not among the stored checkpoints.`,
      );
    }
  }

  #checkSequence(seq: number): void {
    const expected = this.#prev.seq + 1;
    if (seq !== expected) {
      const what =
        seq > expected
          ? `record(s) ${expected}..${seq - 1} are missing`
          : seq === this.#prev.seq
            ? `seq ${seq} appears twice`
            : `it comes after record ${this.#prev.seq}`;
      this.problem({
        code: VerifyProblemCode.sequence,
        seq,
        message: `Record ${seq} is out of sequence (expected ${expected}): ${what}.`,
      });
    }
  }

  #link(seq: number, prevHash: string, storedHash: string, computed: string | undefined): void {
    if (prevHash !== this.#prev.hash) {
      this.problem({
        code: VerifyProblemCode.chainBroken,
        seq,
        message:
          this.#prev.seq === 0
            ? `Record ${seq} is first but does not start from the genesis hash.`
            : `Record ${seq} does not link to record ${this.#prev.seq}: a record was inserted, deleted or moved here.`,
      });
    }
    if (computed !== undefined && !this.#hashBySeq.has(seq)) this.#hashBySeq.set(seq, computed);
    this.#maxSeq = Math.max(this.#maxSeq, seq);
    this.#prev = { seq, hash: storedHash };
  }
}

export interface VerifyLedgerInput extends VerifyOptions {
  /** Records in stored order (ascending seq). */
  records: Iterable<ChainRecord>;
  /** Checkpoints stored with the records (database, or lines of an export). */
  checkpoints: Iterable<LedgerCheckpoint>;
  /** Where `checkpoints` came from, for messages. @default 'database' */
  checkpointSource?: Exclude<CheckpointSource, 'witness'>;
  /** Checkpoints from the witness file kept outside the database. */
  witness?: Iterable<LedgerCheckpoint>;
}

/**
 * Verifies a ledger held in memory: every record's hash, the sequence, the links, and every
 * checkpoint (signature with the trusted key, agreement with the chain, not beyond its end).
 * Pure: reads nothing, throws nothing for a tampered ledger — the report says what is wrong.
 *
 * @example
 * const report = verifyLedger({ records, checkpoints, publicKey });
 * if (!report.ok) process.exitCode = ExitCode.ledgerTampered;
 */
export function verifyLedger(input: VerifyLedgerInput): VerifyReport {
  const verifier = new LedgerVerifier(input);
  const source = input.checkpointSource ?? 'database';
  for (const checkpoint of input.checkpoints) verifier.addCheckpoint(checkpoint, source);
  if (input.witness) {
    verifier.witnessConsulted();
    for (const checkpoint of input.witness) verifier.addCheckpoint(checkpoint, 'witness');
  }
  for (const record of input.records) verifier.addRecord(record);
  return verifier.finish();
}
