import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildLedger, rechain, type BuiltLedger } from '../../test/ledger/chain-builder.js';
import { containing, matching } from '../../test/ledger/matchers.js';
import { ExitCode } from '../core/index.js';
import {
  exportCheckpointLine,
  exportHeaderLine,
  exportRecordLine,
  verifyExportFile,
} from './export.js';

const ours = generateKeyPairSync('ed25519');
const publicPem = ours.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const dir = mkdtempSync(join(tmpdir(), 'shipshape-export-'));
let fileNo = 0;

function lines(built: BuiltLedger, header = { records: built.records.length }): string[] {
  return [
    exportHeaderLine({ exportedAt: '2025-06-01T00:00:00.000Z', ...header }),
    ...built.records.map(exportRecordLine),
    ...built.checkpoints.map(exportCheckpointLine),
  ];
}

function write(content: string[] | string): string {
  fileNo += 1;
  const path = join(dir, `export-${fileNo}.jsonl`);
  writeFileSync(path, Array.isArray(content) ? content.join('') : content);
  return path;
}

describe('verifyExportFile', () => {
  it('verifies an intact export offline', async () => {
    const built = buildLedger(5, { key: ours.privateKey });
    const report = await verifyExportFile(write(lines(built)), publicPem);
    expect(report).toMatchObject({
      ok: true,
      records: 5,
      checkpoints: { total: 5, valid: 5 },
      signedThrough: 5,
    });
  });

  it('writes the header and lines with type first', () => {
    const built = buildLedger(1, { key: ours.privateKey });
    const [header, record, checkpoint] = lines(built);
    expect(header).toBe(
      '{"format":"shipshape-ledger-export","version":1,"exportedAt":"2025-06-01T00:00:00.000Z","records":1}\n',
    );
    expect(record).toMatch(/^\{"type":"record","seq":1,"id":/);
    expect(checkpoint).toMatch(/^\{"type":"checkpoint","seq":1,"headHash":/);
  });

  it('catches a consistently rewritten export through its checkpoints', async () => {
    const built = buildLedger(4, { key: ours.privateKey });
    const records = rechain(built.records.map((r) => ({ ...r, subject: 'service:forged' })));
    const report = await verifyExportFile(write(lines({ ...built, records })), publicPem);
    expect(report.ok).toBe(false);
    expect(report.problems[0]).toMatchObject({
      code: 'SHIP_LEDGER_CHECKPOINT_MISMATCH',
      source: 'export',
    });
  });

  it('catches an export whose checkpoints were stripped', async () => {
    const built = buildLedger(4, { key: ours.privateKey });
    const report = await verifyExportFile(write(lines({ ...built, checkpoints: [] })), publicPem);
    expect(report.problems.map((p) => p.code)).toEqual(['SHIP_LEDGER_UNSIGNED_TAIL']);
  });

  it('catches an export cut short against its header', async () => {
    const built = buildLedger(4, { key: ours.privateKey });
    const path = write(lines(built, { records: 6 }));
    const report = await verifyExportFile(path, publicPem);
    expect(report.problems).toEqual([
      expect.objectContaining({
        code: 'SHIP_LEDGER_TRUNCATED',
        message: 'The export header says 6 records but the file holds 4.',
      }),
    ]);
  });

  it('checks only the chain without a key, and says so', async () => {
    const built = buildLedger(2, { key: ours.privateKey });
    const report = await verifyExportFile(write(lines(built)));
    expect(report.ok).toBe(true);
    expect(report.signaturesChecked).toBe(false);
    expect(report.warnings[0]).toMatch(/Signatures were not checked/);
  });

  it('names the line of a malformed entry', async () => {
    const built = buildLedger(3, { key: ours.privateKey });
    const content = lines(built);
    content[2] = '{"type":"record","seq":2\n';
    const path = write(content);
    await expect(verifyExportFile(path, publicPem)).rejects.toMatchObject({
      code: 'SHIP_LEDGER_BAD_EXPORT',
      exitCode: ExitCode.ledgerTampered,
      message: matching(new RegExp(`^${path}:3: invalid JSON`)),
      details: { path, line: 3 },
    });
  });

  it('refuses unknown fields in a record line (they would escape the hash)', async () => {
    const built = buildLedger(2, { key: ours.privateKey });
    const content = lines(built);
    content[1] = content[1]!.replace(
      '{"type":"record",',
      '{"type":"record","approvedBy":"mallory",',
    );
    const path = write(content);
    await expect(verifyExportFile(path, publicPem)).rejects.toMatchObject({
      code: 'SHIP_LEDGER_BAD_EXPORT',
      message: containing(`${path}:2: not a record or checkpoint line`),
    });
  });

  it('refuses an empty line inside the file but allows trailing ones', async () => {
    const built = buildLedger(2, { key: ours.privateKey });
    const content = lines(built);
    expect((await verifyExportFile(write([...content, '\n', '\n']), publicPem)).ok).toBe(true);
    content.splice(2, 0, '\n');
    await expect(verifyExportFile(write(content), publicPem)).rejects.toMatchObject({
      message: matching(/:3: an empty line inside the export/),
    });
  });

  it('refuses a file that is not an export (exit 2)', async () => {
    await expect(verifyExportFile(write('{"hello":"world"}\n'), publicPem)).rejects.toMatchObject({
      code: 'SHIP_LEDGER_BAD_EXPORT',
      exitCode: ExitCode.usage,
      message: matching(
        /is not a Shipshape ledger export: line 1 is not a shipshape-ledger-export header/,
      ),
    });
    await expect(verifyExportFile(write(''), publicPem)).rejects.toMatchObject({
      message: matching(/the file is empty/),
    });
    await expect(verifyExportFile(join(dir, 'missing.jsonl'), publicPem)).rejects.toMatchObject({
      code: 'SHIP_LEDGER_BAD_EXPORT',
      exitCode: ExitCode.usage,
      message: matching(/Cannot read the ledger export .*missing\.jsonl/),
    });
  });

  it('refuses an export version it does not know', async () => {
    const path = write(
      '{"format":"shipshape-ledger-export","version":2,"exportedAt":"2030-01-01T00:00:00.000Z","records":0}\n',
    );
    await expect(verifyExportFile(path, publicPem)).rejects.toMatchObject({
      code: 'SHIP_LEDGER_EXPORT_VERSION',
      exitCode: ExitCode.usage,
      message: `${path} is a ledger export of version 2; this Shipshape reads version 1.`,
      hint: 'Verify it with a newer Shipshape.',
    });
  });

  it('refuses a private key given as the public key', async () => {
    const privatePem = ours.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await expect(
      verifyExportFile(write(lines(buildLedger(1, { key: ours.privateKey }))), privatePem),
    ).rejects.toMatchObject({
      code: 'SHIP_LEDGER_BAD_KEY',
    });
  });

  it('also checks a witness file when given one', async () => {
    const built = buildLedger(5, { key: ours.privateKey });
    const witness = write(built.checkpoints.map((c) => JSON.stringify(c) + '\n'));
    const truncated = {
      records: built.records.slice(0, 3),
      checkpoints: built.checkpoints.slice(0, 3),
    };
    const path = write(lines(truncated));
    expect((await verifyExportFile(path, publicPem)).ok).toBe(true);
    const report = await verifyExportFile(path, publicPem, { witness });
    expect(report.problems.map((p) => [p.code, p.seq])).toEqual([
      ['SHIP_LEDGER_TRUNCATED', 4],
      ['SHIP_LEDGER_TRUNCATED', 5],
    ]);
  });
});
