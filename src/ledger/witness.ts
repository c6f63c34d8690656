import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ShipError } from '../core/index.js';
import { canonicalJson } from './canonical.js';
import { CheckpointSchema, type LedgerCheckpoint } from './evidence.js';

/**
 * Appends a signed checkpoint as one line to the witness file, a log kept outside the
 * database. Someone who rewrites the database and deletes its checkpoints still leaves these
 * lines behind. One `write` on an O_APPEND descriptor, then fsync: concurrent appenders never
 * interleave within a line, and a line is on disk before `append` returns.
 */
export async function appendWitness(path: string, checkpoint: LedgerCheckpoint): Promise<void> {
  const line = `${canonicalJson(checkpoint)}\n`;
  try {
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(path, 'a', 0o644);
    try {
      await handle.write(line);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw ShipError.runtime(
      'SHIP_LEDGER_WITNESS_WRITE',
      `Record ${checkpoint.seq} was appended and its checkpoint stored, but the witness line could not be written to ${path}: ${error instanceof Error ? error.message : String(error)}.`,
      {
        retryable: false,
        hint: 'Do not append the record again. Fix the path or permissions of ledger.checkpoint_log; the next checkpoint will be witnessed.',
        details: { seq: checkpoint.seq, path },
        cause: error,
      },
    );
  }
}

export interface WitnessContents {
  checkpoints: LedgerCheckpoint[];
  /** Unreadable lines, named by number. A torn last line after a crash is expected. */
  warnings: string[];
}

/**
 * Reads the witness file. Returns `undefined` when it does not exist (nothing was witnessed
 * yet, or witnessing is not configured here).
 */
export async function readWitness(path: string): Promise<WitnessContents | undefined> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ShipError.runtime(
      'SHIP_LEDGER_WITNESS_READ',
      `Cannot read the checkpoint witness file ${path}: ${error instanceof Error ? error.message : String(error)}.`,
      { details: { path }, cause: error },
    );
  }
  const checkpoints: LedgerCheckpoint[] = [];
  const warnings: string[] = [];
  const lines = content.split('\n');
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const torn = index === lines.length - 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      parsed = undefined;
    }
    const checkpoint = CheckpointSchema.safeParse(parsed);
    if (checkpoint.success) checkpoints.push(checkpoint.data);
    else
      warnings.push(
        `Witness file ${path} line ${index + 1} is not a checkpoint${torn ? ' (an unfinished last line, e.g. after a crash)' : ''}; it was skipped.`,
      );
  });
  return { checkpoints, warnings };
}
