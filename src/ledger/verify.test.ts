import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  buildLedger,
  rechain,
  recordAt,
  signAll,
  type BuiltLedger,
} from '../../test/ledger/chain-builder.js';
import { GENESIS_HASH, hashRecord } from './chain.js';
import { createCheckpointSigner, signCheckpoint } from './checkpoint.js';
import type { ChainRecord } from './evidence.js';
import { keyIdOf } from './keys.js';
import { MAX_REPORTED_PROBLEMS, verifyLedger, type VerifyReport } from './verify.js';

const ours = generateKeyPairSync('ed25519');
const theirs = generateKeyPairSync('ed25519');

type Built = BuiltLedger;

function build(count: number, { key = ours.privateKey, every = 1 } = {}): Built {
  return buildLedger(count, { key, every });
}

function codes(report: VerifyReport): string[] {
  return [...new Set(report.problems.map((p) => p.code))].sort();
}

function verify(built: Built, extra: Partial<Parameters<typeof verifyLedger>[0]> = {}) {
  return verifyLedger({ ...built, publicKey: ours.publicKey, ...extra });
}

describe('verifyLedger', () => {
  it('accepts an intact, fully signed chain', () => {
    const built = build(10);
    const report = verify(built);
    expect(report).toMatchObject({
      ok: true,
      records: 10,
      checkpoints: { total: 10, valid: 10 },
      witness: null,
      head: { seq: 10, hash: built.records[9]!.hash },
      signedThrough: 10,
      signaturesChecked: true,
      problems: [],
      problemsOmitted: 0,
      warnings: [],
    });
  });

  it('accepts an empty ledger', () => {
    expect(verify({ records: [], checkpoints: [] })).toMatchObject({
      ok: true,
      records: 0,
      head: { seq: 0, hash: GENESIS_HASH },
      signedThrough: 0,
    });
  });

  it('checks only the chain, with a warning, when no public key is given', () => {
    const report = verifyLedger(build(3));
    expect(report.ok).toBe(true);
    expect(report.signaturesChecked).toBe(false);
    expect(report.signedThrough).toBe(0);
    expect(report.warnings.join()).toMatch(/Signatures were not checked/);
  });

  it('catches an edited record', () => {
    const built = build(6);
    built.records[2] = {
      ...built.records[2]!,
      body: { type: 'note', details: { note: 'edited' } },
    };
    const report = verify(built);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      expect.objectContaining({ code: 'SHIP_LEDGER_HASH_MISMATCH', seq: 3 }),
      // The checkpoint signed the original content's hash.
      expect.objectContaining({ code: 'SHIP_LEDGER_CHECKPOINT_MISMATCH', seq: 3 }),
    ]);
  });

  it('catches an edited record whose hash was recomputed', () => {
    const built = build(6);
    const edited = { ...built.records[2]!, subject: 'service:other' };
    built.records[2] = { ...edited, hash: hashRecord(edited) };
    const report = verify(built);
    expect(codes(report)).toEqual(['SHIP_LEDGER_CHAIN_BROKEN', 'SHIP_LEDGER_CHECKPOINT_MISMATCH']);
    expect(report.problems.find((p) => p.code === 'SHIP_LEDGER_CHAIN_BROKEN')?.seq).toBe(4);
  });

  it('catches a deleted record', () => {
    const built = build(6);
    built.records.splice(2, 1);
    const report = verify(built);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'SHIP_LEDGER_SEQUENCE', seq: 4 }),
        expect.objectContaining({ code: 'SHIP_LEDGER_CHAIN_BROKEN', seq: 4 }),
      ]),
    );
    expect(report.problems[0]!.message).toMatch(/record\(s\) 3\.\.3 are missing/);
  });

  it('catches an inserted record', () => {
    const built = build(6);
    const forged = recordAt(4, built.records[2]!.hash, 'forged approval');
    built.records.splice(3, 0, forged);
    const report = verify(built);
    expect(codes(report)).toEqual([
      'SHIP_LEDGER_CHAIN_BROKEN',
      'SHIP_LEDGER_CHECKPOINT_MISMATCH',
      'SHIP_LEDGER_SEQUENCE',
    ]);
    expect(report.problems.find((p) => p.code === 'SHIP_LEDGER_SEQUENCE')?.message).toMatch(
      /seq 4 appears twice/,
    );
  });

  it('catches an inserted record even when everything after it is renumbered and rechained', () => {
    const built = build(6);
    const forged = recordAt(4, built.records[2]!.hash, 'forged approval');
    const records = [...built.records.slice(0, 3), forged, ...built.records.slice(3)].map(
      (record, index) => ({ ...record, seq: index + 1 }),
    );
    const report = verify({ records: rechain(records, 3), checkpoints: built.checkpoints });
    expect(codes(report)).toEqual(['SHIP_LEDGER_CHECKPOINT_MISMATCH', 'SHIP_LEDGER_UNSIGNED_TAIL']);
  });

  it('catches two reordered records', () => {
    const built = build(6);
    const [a, b] = [built.records[3]!, built.records[4]!];
    built.records[3] = b;
    built.records[4] = a;
    const report = verify(built);
    expect(codes(report)).toEqual(['SHIP_LEDGER_CHAIN_BROKEN', 'SHIP_LEDGER_SEQUENCE']);
  });

  it('catches reordered records whose seq fields were swapped too', () => {
    const built = build(6);
    const [a, b] = [built.records[3]!, built.records[4]!];
    built.records[3] = { ...b, seq: 4 };
    built.records[4] = { ...a, seq: 5 };
    const report = verify(built);
    expect(codes(report)).toEqual([
      'SHIP_LEDGER_CHAIN_BROKEN',
      'SHIP_LEDGER_CHECKPOINT_MISMATCH',
      'SHIP_LEDGER_HASH_MISMATCH',
    ]);
  });

  describe('a consistent rewrite of the whole chain', () => {
    const rewrite = (built: Built): ChainRecord[] =>
      rechain(
        built.records.map((record) => ({
          ...record,
          body: { type: 'note', details: { note: `rewritten ${record.seq}` } },
        })),
      );

    it('passes the chain checks but is caught by the checkpoints', () => {
      const built = build(8);
      const records = rewrite(built);
      expect(verifyLedger({ records, checkpoints: [] }).ok).toBe(true); // the chain alone is fine
      const report = verify({ records, checkpoints: built.checkpoints });
      expect(report.ok).toBe(false);
      expect(codes(report)).toEqual([
        'SHIP_LEDGER_CHECKPOINT_MISMATCH',
        'SHIP_LEDGER_UNSIGNED_TAIL',
      ]);
      expect(
        report.problems.filter((p) => p.code === 'SHIP_LEDGER_CHECKPOINT_MISMATCH'),
      ).toHaveLength(8);
      expect(report.signedThrough).toBe(0);
    });

    it('is caught through the witness when the stored checkpoints were deleted too', () => {
      const built = build(8);
      const report = verify(
        { records: rewrite(built), checkpoints: [] },
        { witness: built.checkpoints, allowUnsignedTail: true },
      );
      expect(codes(report)).toEqual(['SHIP_LEDGER_CHECKPOINT_MISMATCH']);
      expect(report.problems.every((p) => p.source === 'witness')).toBe(true);
      expect(report.witness).toEqual({ total: 8, valid: 0 });
    });

    it('is caught as an unsigned tail when checkpoints were deleted and there is no witness', () => {
      const built = build(8);
      const report = verify({ records: rewrite(built), checkpoints: [] });
      expect(report.problems).toEqual([
        expect.objectContaining({ code: 'SHIP_LEDGER_UNSIGNED_TAIL', seq: 1 }),
      ]);
    });

    it('is caught when the attacker re-signs with a key of their own', () => {
      const built = build(8);
      const records = rewrite(built);
      const report = verify({ records, checkpoints: signAll(records, theirs.privateKey) });
      expect(codes(report)).toEqual(['SHIP_LEDGER_UNKNOWN_KEY', 'SHIP_LEDGER_UNSIGNED_TAIL']);
    });
  });

  it('catches a truncated tail through a checkpoint beyond the end', () => {
    const built = build(8);
    const report = verify({ records: built.records.slice(0, 5), checkpoints: built.checkpoints });
    expect(codes(report)).toEqual(['SHIP_LEDGER_TRUNCATED']);
    expect(report.problems.map((p) => p.seq)).toEqual([6, 7, 8]);
  });

  it('catches a truncated tail whose stored checkpoints were deleted too, through the witness', () => {
    const built = build(8);
    const kept = { records: built.records.slice(0, 5), checkpoints: built.checkpoints.slice(0, 5) };
    expect(verify(kept).ok).toBe(true); // what remains is a valid, signed ledger on its own
    const report = verify(kept, { witness: built.checkpoints });
    expect(codes(report)).toEqual(['SHIP_LEDGER_TRUNCATED']);
    expect(report.warnings.join()).toMatch(/3 of 8 witness checkpoint\(s\) are not among/);
  });

  it('catches a forged checkpoint signed with another key', () => {
    const built = build(4);
    const signer = createCheckpointSigner(theirs.privateKey);
    const forged = signCheckpoint(signer, {
      seq: 4,
      headHash: built.records[3]!.hash,
      signedAt: '2025-01-02T00:00:00.000Z',
    });
    const report = verify({ ...built, checkpoints: [...built.checkpoints, forged] });
    expect(report.problems).toEqual([
      expect.objectContaining({ code: 'SHIP_LEDGER_UNKNOWN_KEY', seq: 4 }),
    ]);
    expect(report.problems[0]!.message).toContain(keyIdOf(theirs.publicKey));
  });

  it('catches a forged checkpoint that claims our key id', () => {
    const built = build(4);
    const signer = { privateKey: theirs.privateKey, keyId: keyIdOf(ours.publicKey) };
    const forged = signCheckpoint(signer, {
      seq: 4,
      headHash: built.records[3]!.hash,
      signedAt: '2025-01-02T00:00:00.000Z',
    });
    const report = verify({ ...built, checkpoints: [...built.checkpoints, forged] });
    expect(codes(report)).toEqual(['SHIP_LEDGER_BAD_SIGNATURE']);
  });

  it('catches a tampered checkpoint signature or head hash', () => {
    const built = build(4);
    const signature = Buffer.from(built.checkpoints[1]!.signature, 'base64');
    signature[10] = signature[10]! ^ 0x01;
    built.checkpoints[1] = { ...built.checkpoints[1]!, signature: signature.toString('base64') };
    built.checkpoints[2] = { ...built.checkpoints[2]!, headHash: built.records[1]!.hash };
    built.checkpoints[3] = { ...built.checkpoints[3]!, signature: 'AAAA' };
    const report = verify(built);
    expect(report.problems.map((p) => [p.code, p.seq])).toEqual([
      ['SHIP_LEDGER_BAD_SIGNATURE', 2],
      ['SHIP_LEDGER_BAD_SIGNATURE', 3],
      ['SHIP_LEDGER_BAD_SIGNATURE', 4],
      ['SHIP_LEDGER_UNSIGNED_TAIL', 2],
    ]);
    expect(report.checkpoints).toEqual({ total: 4, valid: 1 });
  });

  it('reports records after the last checkpoint as an unsigned tail, or warns when allowed', () => {
    const built = build(12, { every: 5 });
    expect(verify(built).problems).toEqual([
      expect.objectContaining({ code: 'SHIP_LEDGER_UNSIGNED_TAIL', seq: 11 }),
    ]);
    const lenient = verify(built, { allowUnsignedTail: true });
    expect(lenient.ok).toBe(true);
    expect(lenient.signedThrough).toBe(10);
    expect(lenient.warnings).toEqual([
      'Records 11..12 are not covered by any valid signed checkpoint.',
    ]);
  });

  it('tolerates at most the given number of unsigned records', () => {
    const built = build(12, { every: 5 });
    expect(verify(built, { allowUnsignedTail: 1 }).ok).toBe(false);
    expect(verify(built, { allowUnsignedTail: 2 }).ok).toBe(true);
    expect(verify(built, { allowUnsignedTail: 2 }).warnings).toHaveLength(1);
  });

  it('trusts several keys (rotation)', () => {
    const first = build(3);
    const signer = createCheckpointSigner(theirs.privateKey);
    const later = signCheckpoint(signer, {
      seq: 3,
      headHash: first.records[2]!.hash,
      signedAt: '2025-02-01T00:00:00.000Z',
    });
    const built = { ...first, checkpoints: [...first.checkpoints, later] };
    expect(verify(built, { publicKey: [ours.publicKey, theirs.publicKey] }).ok).toBe(true);
    expect(codes(verify(built, { publicKey: theirs.publicKey }))).toEqual([
      'SHIP_LEDGER_UNKNOWN_KEY',
    ]);
  });

  it('still compares checkpoints with the chain when no key is given', () => {
    const built = build(3);
    built.records = rechain(built.records.map((r) => ({ ...r, subject: 'x' })));
    expect(codes(verifyLedger(built))).toEqual(['SHIP_LEDGER_CHECKPOINT_MISMATCH']);
  });

  it('lists at most MAX_REPORTED_PROBLEMS problems and counts the rest', () => {
    const built = build(MAX_REPORTED_PROBLEMS + 20);
    const records = rechain(built.records.map((r) => ({ ...r, subject: 'x' })));
    const report = verify({ records, checkpoints: built.checkpoints });
    expect(report.problems).toHaveLength(MAX_REPORTED_PROBLEMS);
    expect(report.problemsOmitted).toBe(21); // 120 mismatches + 1 unsigned tail - 100
  });

  it('rejects a first record that does not start from the genesis hash', () => {
    const built = build(2);
    built.records[0] = { ...built.records[0]!, prevHash: 'f'.repeat(64) };
    expect(verify(built).problems[0]).toMatchObject({
      code: 'SHIP_LEDGER_HASH_MISMATCH',
      seq: 1,
    });
    expect(codes(verify(built))).toContain('SHIP_LEDGER_CHAIN_BROKEN');
  });
});
