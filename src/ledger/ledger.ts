import { once } from 'node:events';
import { createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ExitCode, ShipError, type Problem } from '../core/index.js';
import type { LedgerCheckpointRow, LedgerRecordRow, Store, StoreDb } from '../store/index.js';
import { GENESIS_HASH, hashRecord } from './chain.js';
import { createCheckpointSigner, signCheckpoint, type CheckpointSigner } from './checkpoint.js';
import {
  AppendInputSchema,
  GATE_IDS,
  RECORD_KINDS,
  type AppendInput,
  type LedgerCheckpoint,
  type LedgerRecord,
} from './evidence.js';
import { exportCheckpointLine, exportHeaderLine, exportRecordLine } from './export.js';
import { keyIdOf } from './keys.js';
import {
  checkpointToRow,
  num,
  recordToRow,
  rowHashes,
  rowToChainRecord,
  rowToCheckpoint,
  rowToRecord,
  text,
} from './rows.js';
import { LedgerVerifier, VerifyProblemCode, type VerifyReport } from './verify.js';
import { redactInput } from './redact-input.js';
import { appendWitness, readWitness } from './witness.js';

/** The store-wide lock every append holds: one writer at a time extends the chain. */
export const LEDGER_LOCK = 'shipshape.ledger';

/** Rows read per query when streaming the whole ledger. */
const PAGE_SIZE = 1000;

export interface LedgerOptions {
  /** Signs checkpoints. Without it records are chained but not signed. */
  signer?: { privateKey: KeyObject };
  /**
   * Trusted public key(s) for `verify()`. Defaults to the signer's public key. Give several
   * while rotating keys.
   */
  publicKey?: KeyObject | readonly KeyObject[];
  /** Sign a checkpoint after this many records. @default 1 (every record) */
  checkpointEvery?: number;
  /** Witness file (outside the database) that every new checkpoint is appended to. */
  checkpointLog?: string;
  /**
   * Unsigned records `verify()` tolerates at the end (as a warning); see VerifyOptions.
   * @default checkpointEvery - 1, the most a correctly configured signer leaves unsigned
   */
  allowUnsignedTail?: boolean | number;
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

export interface ListOptions {
  /** @default 100, at most 10,000 */
  limit?: number;
  /** Only records with seq greater than this. */
  afterSeq?: number;
  /** Only records with seq less than this. */
  beforeSeq?: number;
  /** `gate-result` or `event`. */
  kind?: string;
  /** A gate id (implies gate-result records). */
  gate?: string;
  /** Exact subject. */
  subject?: string;
  /** @default 'asc' */
  order?: 'asc' | 'desc';
}

export interface ExportSummary {
  records: number;
  /** Checkpoint lines written, the fresh head checkpoint included. */
  checkpoints: number;
  /**
   * The head checkpoint signed for this export, or null: no signer, an empty ledger, or the
   * ledger failed verification (an export never vouches for a tampered history).
   */
  signedHead: LedgerCheckpoint | null;
  /** Whether the exported ledger verified (with an unsigned tail shorter than checkpointEvery allowed). */
  verified: boolean;
}

/**
 * The evidence ledger: append-only records, each hashed over its canonical JSON and chained to
 * the previous one, with Ed25519-signed checkpoints of the head stored in the same transaction
 * and mirrored to a witness file outside the database.
 *
 * @example
 * const ledger = new Ledger(store, { signer: { privateKey }, checkpointLog: '.shipshape/ledger-checkpoints.jsonl' });
 * await ledger.append({ kind: 'event', subject: 'service:shop', actor, body: { type: 'note', details: {} } });
 * const report = await ledger.verify();
 */
export class Ledger {
  readonly #store: Store;
  readonly #signer: CheckpointSigner | undefined;
  readonly #publicKeys: readonly KeyObject[];
  readonly #checkpointEvery: number;
  readonly #checkpointLog: string | undefined;
  readonly #allowUnsignedTail: boolean | number;
  readonly #now: () => Date;

  constructor(store: Store, options: LedgerOptions = {}) {
    const every = options.checkpointEvery ?? 1;
    if (!Number.isSafeInteger(every) || every < 1) {
      throw ShipError.usage(
        'SHIP_LEDGER_BAD_OPTION',
        `checkpointEvery must be a positive integer, got ${String(every)}.`,
        { hint: 'Use 1 to sign every record (the default), or e.g. 10.' },
      );
    }
    this.#store = store;
    this.#signer = options.signer ? createCheckpointSigner(options.signer.privateKey) : undefined;
    this.#checkpointEvery = every;
    this.#checkpointLog = options.checkpointLog;
    this.#allowUnsignedTail = options.allowUnsignedTail ?? every - 1;
    this.#now = options.now ?? (() => new Date());

    const given =
      options.publicKey === undefined
        ? []
        : Array.isArray(options.publicKey)
          ? (options.publicKey as readonly KeyObject[])
          : [options.publicKey as KeyObject];
    this.#publicKeys =
      given.length > 0 || !options.signer ? given : [createPublicKey(options.signer.privateKey)];
    if (this.#signer && given.length > 0) {
      const trusted = given.map(keyIdOf);
      if (!trusted.includes(this.#signer.keyId)) {
        throw ShipError.usage(
          'SHIP_LEDGER_KEY_MISMATCH',
          `The ledger signing key (key id ${this.#signer.keyId}) does not match the public key (key id ${trusted.join(', ')}); every checkpoint it signs would fail verification.`,
          {
            hint: 'Point ledger.public_key at the public half of ledger.signing_key (both are written by `shipshape init`).',
          },
        );
      }
    }
  }

  /** Key id of the signing key, or undefined when this ledger does not sign. */
  get keyId(): string | undefined {
    return this.#signer?.keyId;
  }

  /**
   * Appends one record. Free text is redacted, then the input is validated
   * (SHIP_LEDGER_BAD_INPUT, exit 2, listing every problem), and the record is chained to the
   * head and stored — with a
   * signed checkpoint when one is due — in one transaction under the ledger lock, so
   * concurrent appenders from any number of processes form one linear chain. The checkpoint is
   * then appended to the witness file.
   */
  async append(input: AppendInput): Promise<LedgerRecord> {
    const parsed = AppendInputSchema.safeParse(redactInput(input));
    if (!parsed.success) {
      const problems: Problem[] = parsed.error.issues.map((issue) => ({
        code: 'SHIP_LEDGER_BAD_INPUT',
        message: issue.message,
        path: issue.path.join('.'),
      }));
      throw ShipError.problems(
        'SHIP_LEDGER_BAD_INPUT',
        `Evidence was not recorded: ${problems.length} problem(s) in the input.`,
        problems,
      );
    }
    const content = parsed.data;

    const { record, checkpoint } = await this.#store.exclusive(LEDGER_LOCK, async (trx) => {
      const head = await trx
        .selectFrom('ledger_records')
        .select(['seq', 'hash'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      const seq = head ? num(head.seq) + 1 : 1;
      const recordedAt = this.#now().toISOString();
      const unhashed = {
        seq,
        id: randomUUID(),
        ...content,
        recordedAt,
        prevHash: head ? text(head.hash) : GENESIS_HASH,
      };
      const appended: LedgerRecord = { ...unhashed, hash: hashRecord(unhashed) };
      await trx.insertInto('ledger_records').values(recordToRow(appended)).execute();
      const signed = await this.#checkpointIfDue(trx, appended, recordedAt);
      return { record: appended, checkpoint: signed };
    });

    if (checkpoint && this.#checkpointLog !== undefined) {
      await appendWitness(this.#checkpointLog, checkpoint);
    }
    return record;
  }

  async #checkpointIfDue(
    trx: StoreDb,
    record: LedgerRecord,
    signedAt: string,
  ): Promise<LedgerCheckpoint | undefined> {
    if (!this.#signer) return undefined;
    if (this.#checkpointEvery > 1) {
      const last = await trx
        .selectFrom('ledger_checkpoints')
        .select(['seq'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (record.seq - (last ? num(last.seq) : 0) < this.#checkpointEvery) return undefined;
    }
    const checkpoint = signCheckpoint(this.#signer, {
      seq: record.seq,
      headHash: record.hash,
      signedAt,
    });
    await trx.insertInto('ledger_checkpoints').values(checkpointToRow(checkpoint)).execute();
    return checkpoint;
  }

  /** Lists records, filtered and paged by seq. */
  async list(options: ListOptions = {}): Promise<LedgerRecord[]> {
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) {
      throw badFilter(`limit must be an integer from 1 to 10000, got ${String(limit)}`);
    }
    if (options.kind !== undefined && !(RECORD_KINDS as readonly string[]).includes(options.kind)) {
      throw badFilter(`kind "${options.kind}" is not one of ${RECORD_KINDS.join(', ')}`);
    }
    if (options.gate !== undefined && !(GATE_IDS as readonly string[]).includes(options.gate)) {
      throw badFilter(`gate "${options.gate}" is not one of ${GATE_IDS.join(', ')}`);
    }
    for (const [name, value] of [
      ['afterSeq', options.afterSeq],
      ['beforeSeq', options.beforeSeq],
    ] as const) {
      if (value !== undefined && !Number.isSafeInteger(value)) {
        throw badFilter(`${name} must be an integer, got ${String(value)}`);
      }
    }
    let query = this.#store.db.selectFrom('ledger_records').selectAll();
    if (options.afterSeq !== undefined) query = query.where('seq', '>', options.afterSeq);
    if (options.beforeSeq !== undefined) query = query.where('seq', '<', options.beforeSeq);
    if (options.kind !== undefined) query = query.where('kind', '=', options.kind);
    if (options.gate !== undefined) query = query.where('gate', '=', options.gate);
    if (options.subject !== undefined) query = query.where('subject', '=', options.subject);
    const rows = await query
      .orderBy('seq', options.order ?? 'asc')
      .limit(limit)
      .execute();
    return rows.map(rowToRecord);
  }

  /**
   * One record by sequence number (a number, or a string of digits) or id.
   * Throws SHIP_LEDGER_NOT_FOUND (exit 2) when there is none.
   */
  async get(seqOrId: number | string): Promise<LedgerRecord> {
    const bySeq =
      typeof seqOrId === 'number' ? seqOrId : /^\d{1,15}$/.test(seqOrId) ? Number(seqOrId) : null;
    let row: LedgerRecordRow | undefined;
    if (bySeq !== null) {
      row = await this.#store.db
        .selectFrom('ledger_records')
        .selectAll()
        .where('seq', '=', bySeq)
        .executeTakeFirst();
    } else if (UUID.test(String(seqOrId))) {
      row = await this.#store.db
        .selectFrom('ledger_records')
        .selectAll()
        .where('id', '=', String(seqOrId).toLowerCase())
        .executeTakeFirst();
    }
    if (!row) {
      throw ShipError.usage(
        'SHIP_LEDGER_NOT_FOUND',
        `There is no ledger record ${bySeq === null ? `with id "${String(seqOrId)}"` : `#${bySeq}`}.`,
        {
          hint: 'Give a sequence number or a record id as shown by `shipshape ledger list`.',
          details: { record: seqOrId },
        },
      );
    }
    return rowToRecord(row);
  }

  /** Number of records. */
  async count(): Promise<number> {
    const row = await this.#store.db
      .selectFrom('ledger_records')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * Verifies the whole ledger: every record's hash, the sequence and links, and every
   * checkpoint stored in the database or in the witness file against the trusted public key.
   * Records are streamed in pages. A tampered ledger is reported (`ok: false`, each problem
   * listed), not thrown; the CLI exits with ExitCode.ledgerTampered.
   */
  async verify(): Promise<VerifyReport> {
    const verifier = this.#verifier(this.#allowUnsignedTail);
    await this.#scan(verifier);
    return verifier.finish();
  }

  /**
   * Writes the ledger as JSONL (see docs/ledger.md): a header, every record, every stored
   * checkpoint, and — when this ledger signs and the ledger verifies — a freshly signed
   * checkpoint of the head, so every export carries the signed head. A path is written
   * atomically (temporary file, fsync, rename); a stream is written to but not ended.
   */
  async export(out: Writable | string): Promise<ExportSummary> {
    // Same read order as verify() (see #scan), so that appends running meanwhile are never
    // mistaken for tampering: witness and stored checkpoints first, then the head, then the
    // records up to it. A checkpoint read first whose record is then missing is truncation.
    // A tail shorter than checkpointEvery is expected; the fresh head checkpoint covers it.
    const verifier = this.#verifier(this.#checkpointEvery - 1);
    await this.#readWitnessInto(verifier);
    const checkpoints: LedgerCheckpoint[] = [];
    for await (const row of this.#checkpointRows(this.#store.db)) {
      const checkpoint = rowToCheckpoint(row);
      verifier.addCheckpoint(checkpoint, 'database');
      checkpoints.push(checkpoint);
    }
    const headRow = await this.#store.db
      .selectFrom('ledger_records')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const head = headRow ? { seq: num(headRow.seq), hash: text(headRow.hash) } : undefined;
    const upTo = head?.seq ?? 0;
    const total = await this.#store.db
      .selectFrom('ledger_records')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('seq', '<=', upTo)
      .executeTakeFirst();

    const summary: ExportSummary = {
      records: 0,
      checkpoints: 0,
      signedHead: null,
      verified: false,
    };
    const lines = async function* (this: Ledger): AsyncGenerator<string> {
      yield exportHeaderLine({
        exportedAt: this.#now().toISOString(),
        records: num(total?.n ?? 0),
      });
      for await (const row of this.#recordRows(this.#store.db, upTo)) {
        const read = rowToChainRecord(row);
        if ('error' in read) {
          throw new ShipError(
            'SHIP_LEDGER_BAD_RECORD',
            `Ledger record ${rowHashes(row).seq} cannot be exported: ${read.error}.`,
            {
              exitCode: ExitCode.ledgerTampered,
              hint: 'Run `shipshape ledger verify` to see what was changed.',
            },
          );
        }
        verifier.addRecord(read.record);
        summary.records += 1;
        yield exportRecordLine(read.record);
      }
      // Checkpoints committed after the first read, for records up to the head.
      const newest = checkpoints.reduce((max, c) => Math.max(max, c.seq), 0);
      for await (const row of this.#checkpointRows(this.#store.db, upTo, newest)) {
        const checkpoint = rowToCheckpoint(row);
        verifier.addCheckpoint(checkpoint, 'database');
        checkpoints.push(checkpoint);
      }
      for (const checkpoint of checkpoints) {
        summary.checkpoints += 1;
        yield exportCheckpointLine(checkpoint);
      }
      const report = verifier.finish();
      summary.verified = report.ok;
      if (this.#signer && head && summary.verified) {
        summary.signedHead = signCheckpoint(this.#signer, {
          seq: head.seq,
          headHash: head.hash,
          signedAt: this.#now().toISOString(),
        });
        summary.checkpoints += 1;
        yield exportCheckpointLine(summary.signedHead);
      }
    }.call(this);

    if (typeof out !== 'string') {
      // Written by hand rather than with pipeline({ end: false }), which leaves its listeners on
      // a long-lived destination (a server response or stdout used for several exports).
      for await (const line of lines) {
        if (!out.write(line)) await once(out, 'drain');
      }
      return summary;
    }
    const temporary = `${out}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
    try {
      await pipeline(Readable.from(lines), createWriteStream(temporary, { mode: 0o644 }));
      const handle = await open(temporary, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, out);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return summary;
  }

  #verifier(allowUnsignedTail: boolean | number): LedgerVerifier {
    return new LedgerVerifier({
      ...(this.#publicKeys.length > 0 ? { publicKey: this.#publicKeys } : {}),
      allowUnsignedTail,
    });
  }

  /**
   * Feeds the verifier from the database and the witness, in an order that stays correct
   * while other processes append: the witness and the stored checkpoints are read before the
   * records (a checkpoint is committed with its record and witnessed after it, so every
   * checkpoint read is matched by a record read later), and checkpoints committed while the
   * records were being read are picked up afterwards, up to the last record read.
   */
  async #scan(verifier: LedgerVerifier): Promise<void> {
    await this.#readWitnessInto(verifier);
    const db = this.#store.db;
    let maxCheckpoint = 0;
    for await (const row of this.#checkpointRows(db)) {
      const checkpoint = rowToCheckpoint(row);
      maxCheckpoint = Math.max(maxCheckpoint, checkpoint.seq);
      verifier.addCheckpoint(checkpoint, 'database');
    }
    let last = 0;
    for await (const row of this.#recordRows(db)) {
      const read = rowToChainRecord(row);
      if ('error' in read) {
        verifier.addUnreadableRecord(rowHashes(row), read.error);
      } else {
        verifier.addRecord(read.record);
        if (read.mismatch !== undefined) {
          verifier.problem({
            code: VerifyProblemCode.badRecord,
            seq: read.record.seq,
            message: `Record ${read.record.seq}: ${read.mismatch}.`,
          });
        }
      }
      last = rowHashes(row).seq;
    }
    for await (const row of this.#checkpointRows(db, last, maxCheckpoint)) {
      verifier.addCheckpoint(rowToCheckpoint(row), 'database');
    }
  }

  async #readWitnessInto(verifier: LedgerVerifier): Promise<void> {
    if (this.#checkpointLog === undefined) return;
    const witness = await readWitness(this.#checkpointLog);
    if (!witness) return;
    verifier.witnessConsulted();
    for (const checkpoint of witness.checkpoints) verifier.addCheckpoint(checkpoint, 'witness');
    for (const warning of witness.warnings) verifier.warn(warning);
  }

  /** Records in seq order, a page at a time (keyset pagination). */
  async *#recordRows(db: StoreDb, upTo?: number): AsyncGenerator<LedgerRecordRow> {
    let after = 0;
    for (;;) {
      let query = db.selectFrom('ledger_records').selectAll().where('seq', '>', after);
      if (upTo !== undefined) query = query.where('seq', '<=', upTo);
      const rows = await query.orderBy('seq', 'asc').limit(PAGE_SIZE).execute();
      yield* rows;
      const lastRow = rows.at(-1);
      if (rows.length < PAGE_SIZE || !lastRow) return;
      after = num(lastRow.seq);
    }
  }

  /** Checkpoints in seq order with `after < seq <= upTo`, a page at a time. */
  async *#checkpointRows(
    db: StoreDb,
    upTo?: number,
    after = 0,
  ): AsyncGenerator<LedgerCheckpointRow> {
    let cursor = after;
    for (;;) {
      let query = db.selectFrom('ledger_checkpoints').selectAll().where('seq', '>', cursor);
      if (upTo !== undefined) query = query.where('seq', '<=', upTo);
      const rows = await query.orderBy('seq', 'asc').limit(PAGE_SIZE).execute();
      yield* rows;
      const lastRow = rows.at(-1);
      if (rows.length < PAGE_SIZE || !lastRow) return;
      cursor = num(lastRow.seq);
    }
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function badFilter(message: string): ShipError {
  return ShipError.usage('SHIP_LEDGER_BAD_FILTER', `Cannot list the ledger: ${message}.`, {
    hint: 'See `shipshape ledger list --help`.',
  });
}
