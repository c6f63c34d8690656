import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCheckpointSigner, signCheckpoint } from './checkpoint.js';
import { appendWitness, readWitness } from './witness.js';

const signer = createCheckpointSigner(generateKeyPairSync('ed25519').privateKey);
const checkpoint = (seq: number) =>
  signCheckpoint(signer, { seq, headHash: 'a'.repeat(64), signedAt: '2025-01-01T00:00:00.000Z' });

describe('witness file', () => {
  it('appends one line per checkpoint, creating its directory', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'shipshape-witness-')), 'nested', 'w.jsonl');
    await appendWitness(path, checkpoint(1));
    await appendWitness(path, checkpoint(2));
    expect(readFileSync(path, 'utf8').split('\n')).toHaveLength(3);
    expect(await readWitness(path)).toEqual({
      checkpoints: [checkpoint(1), checkpoint(2)],
      warnings: [],
    });
  });

  it('keeps every line whole when many appends race', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'shipshape-witness-')), 'w.jsonl');
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => appendWitness(path, checkpoint(i + 1))),
    );
    const read = await readWitness(path);
    expect(read?.warnings).toEqual([]);
    expect(read?.checkpoints.map((c) => c.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
  });

  it('skips unreadable lines with a warning naming them', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'shipshape-witness-')), 'w.jsonl');
    await appendWitness(path, checkpoint(1));
    appendFileSync(path, 'garbage\n');
    await appendWitness(path, checkpoint(3));
    appendFileSync(path, '{"seq":4,"headHa');
    const read = await readWitness(path);
    expect(read?.checkpoints.map((c) => c.seq)).toEqual([1, 3]);
    expect(read?.warnings).toEqual([
      `Witness file ${path} line 2 is not a checkpoint; it was skipped.`,
      `Witness file ${path} line 4 is not a checkpoint (an unfinished last line, e.g. after a crash); it was skipped.`,
    ]);
  });

  it('reads a missing file as no witness', async () => {
    expect(await readWitness(join(tmpdir(), 'shipshape-no-such-witness.jsonl'))).toBeUndefined();
  });

  it('fails with a clear error, saying the record was stored, when it cannot write', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'shipshape-witness-')), 'a-file');
    appendFileSync(file, '');
    await expect(appendWitness(join(file, 'w.jsonl'), checkpoint(7))).rejects.toMatchObject({
      code: 'SHIP_LEDGER_WITNESS_WRITE',
      retryable: false,
      details: { seq: 7 },
    });
  });
});
