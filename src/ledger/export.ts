import type { KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { ExitCode, ShipError } from '../core/index.js';
import {
  ChainRecordSchema,
  CheckpointSchema,
  type ChainRecord,
  type LedgerCheckpoint,
} from './evidence.js';
import { loadPublicKey } from './keys.js';
import { LedgerVerifier, VerifyProblemCode, type VerifyReport } from './verify.js';
import { readWitness } from './witness.js';

export const EXPORT_FORMAT = 'shipshape-ledger-export';
export const EXPORT_VERSION = 1;

/** First line of an export. */
export const ExportHeaderSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  version: z.number().int(),
  exportedAt: z.string(),
  /** Records in the file. Not signed: a check against a damaged file, not against an attacker. */
  records: z.number().int().nonnegative(),
});
export type ExportHeader = z.infer<typeof ExportHeaderSchema>;

const ExportLineSchema = z.discriminatedUnion('type', [
  ChainRecordSchema.extend({ type: z.literal('record') }),
  CheckpointSchema.extend({ type: z.literal('checkpoint') }),
]);

/** The header line. */
export function exportHeaderLine(header: Omit<ExportHeader, 'format' | 'version'>): string {
  return `${JSON.stringify({ format: EXPORT_FORMAT, version: EXPORT_VERSION, ...header })}\n`;
}

/**
 * One record line: `type` and exactly the hashed fields. Lines are plain JSON with `type`
 * first for people reading them; verification parses them and hashes the canonical form.
 */
export function exportRecordLine(record: ChainRecord): string {
  return `${JSON.stringify({
    type: 'record',
    seq: record.seq,
    id: record.id,
    kind: record.kind,
    subject: record.subject,
    actor: record.actor,
    recordedAt: record.recordedAt,
    body: record.body,
    prevHash: record.prevHash,
    hash: record.hash,
  })}\n`;
}

/** One checkpoint line. */
export function exportCheckpointLine(checkpoint: LedgerCheckpoint): string {
  return `${JSON.stringify({
    type: 'checkpoint',
    seq: checkpoint.seq,
    headHash: checkpoint.headHash,
    signedAt: checkpoint.signedAt,
    keyId: checkpoint.keyId,
    signature: checkpoint.signature,
  })}\n`;
}

export interface VerifyExportOptions {
  /** Unsigned records tolerated at the end; see VerifyOptions. @default false */
  allowUnsignedTail?: boolean | number;
  /** A witness file to check the export against, as well. */
  witness?: string;
}

/**
 * Verifies an export file offline: no database, only the file and the public key. Streams the
 * file line by line; each line is schema-checked. Returns the same report as
 * `Ledger.verify()`. Throws SHIP_LEDGER_BAD_EXPORT naming the line when the file is not a
 * readable export (exit 2 for a file that is not an export at all, 10 for a damaged one), and
 * SHIP_LEDGER_EXPORT_VERSION for a version this Shipshape does not read.
 *
 * @param publicKey PEM text or key(s); without it only the chain is checked (with a warning)
 * @example
 * const report = await verifyExportFile('ledger.jsonl', await readFile('ledger.pub.pem', 'utf8'));
 */
export async function verifyExportFile(
  path: string,
  publicKey?: string | Buffer | KeyObject | readonly KeyObject[],
  options: VerifyExportOptions = {},
): Promise<VerifyReport> {
  const keys =
    typeof publicKey === 'string' || Buffer.isBuffer(publicKey)
      ? loadPublicKey(publicKey)
      : publicKey;
  try {
    await access(path);
  } catch (error) {
    throw ShipError.usage(
      'SHIP_LEDGER_BAD_EXPORT',
      `Cannot read the ledger export ${path}: ${error instanceof Error ? error.message : String(error)}.`,
      { hint: 'Create one with `shipshape ledger export --out FILE`.', details: { path } },
    );
  }
  const verifier = new LedgerVerifier({
    ...(keys === undefined ? {} : { publicKey: keys }),
    ...(options.allowUnsignedTail === undefined
      ? {}
      : { allowUnsignedTail: options.allowUnsignedTail }),
  });
  if (options.witness !== undefined) {
    const witness = await readWitness(options.witness);
    if (witness) {
      verifier.witnessConsulted();
      for (const checkpoint of witness.checkpoints) verifier.addCheckpoint(checkpoint, 'witness');
      for (const warning of witness.warnings) verifier.warn(warning);
    } else {
      verifier.warn(`Witness file ${options.witness} does not exist; it was not consulted.`);
    }
  }

  const lines = createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  let header: ExportHeader | undefined;
  let lineNo = 0;
  let records = 0;
  let blankAt: number | undefined;
  for await (const line of lines) {
    lineNo += 1;
    if (lineNo === 1) {
      header = parseHeader(path, line);
      continue;
    }
    if (line.trim() === '') {
      blankAt ??= lineNo;
      continue;
    }
    if (blankAt !== undefined) throw badLine(path, blankAt, 'an empty line inside the export');
    const entry = parseLine(path, lineNo, line);
    // The extra `type` property is harmless: hashes and signatures cover named fields only.
    if (entry.type === 'record') {
      records += 1;
      verifier.addRecord(entry);
    } else {
      verifier.addCheckpoint(entry, 'export');
    }
  }
  if (!header) throw badHeader(path, 'the file is empty');
  if (records !== header.records) {
    verifier.problem({
      code: records < header.records ? VerifyProblemCode.truncated : VerifyProblemCode.sequence,
      message: `The export header says ${header.records} records but the file holds ${records}.`,
    });
  }
  return verifier.finish();
}

function parseHeader(path: string, line: string): ExportHeader {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw badHeader(path, 'line 1 is not JSON');
  }
  const header = ExportHeaderSchema.safeParse(value);
  if (!header.success) {
    throw badHeader(path, `line 1 is not a ${EXPORT_FORMAT} header`);
  }
  if (header.data.version !== EXPORT_VERSION) {
    throw ShipError.usage(
      'SHIP_LEDGER_EXPORT_VERSION',
      `${path} is a ledger export of version ${header.data.version}; this Shipshape reads version ${EXPORT_VERSION}.`,
      {
        hint:
          header.data.version > EXPORT_VERSION
            ? 'Verify it with a newer Shipshape.'
            : 'Verify it with the Shipshape version that wrote it.',
        details: { path, version: header.data.version },
      },
    );
  }
  return header.data;
}

function parseLine(path: string, lineNo: number, line: string): z.infer<typeof ExportLineSchema> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw badLine(path, lineNo, `invalid JSON (${error instanceof Error ? error.message : ''})`);
  }
  const entry = ExportLineSchema.safeParse(value);
  if (!entry.success) {
    const issue = entry.error.issues[0];
    const field = issue?.path.length ? ` at \`${issue.path.join('.')}\`` : '';
    throw badLine(
      path,
      lineNo,
      `not a record or checkpoint line${field}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return entry.data;
}

function badHeader(path: string, why: string): ShipError {
  return ShipError.usage(
    'SHIP_LEDGER_BAD_EXPORT',
    `${path} is not a Shipshape ledger export: ${why}.`,
    {
      hint: 'Pass a file written by `shipshape ledger export`.',
      details: { path, line: 1 },
    },
  );
}

function badLine(path: string, line: number, why: string): ShipError {
  return new ShipError('SHIP_LEDGER_BAD_EXPORT', `${path}:${line}: ${why}.`, {
    exitCode: ExitCode.ledgerTampered,
    hint: 'The export is damaged or was edited; export the ledger again from the state store.',
    details: { path, line },
  });
}
