import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';

import { redact } from '../core/index.js';

/** How much output is kept in memory for {@link ProcessLog.tail}. */
export const LOG_BUFFER_BYTES = 256 * 1024;

/** A line longer than this is written to the log file in pieces rather than held back. */
const MAX_PENDING_LINE = 64 * 1024;

/** Where a chunk of output came from; lines of the two are assembled separately. */
export type OutputStream = 'stdout' | 'stderr';

/**
 * A child's combined output: the last {@link LOG_BUFFER_BYTES} in memory, and optionally every
 * line appended, redacted, to a file. Lines are redacted whole so a secret is never split
 * across two writes and missed.
 */
export class ProcessLog {
  readonly #capacity: number;
  readonly #file: Writable | undefined;
  readonly #pending: Record<OutputStream, Buffer> = {
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
  };
  #chunks: Buffer[] = [];
  #closing: Promise<void> | undefined;
  #size = 0;
  /** Whether output was dropped from the front of the buffer in the middle of a line. */
  #cutMidLine = false;

  constructor(handle?: FileHandle, capacity = LOG_BUFFER_BYTES) {
    this.#capacity = capacity;
    // The stream closes the handle when it ends (FileHandle.close() would wait for the stream).
    this.#file = handle?.createWriteStream();
    // A full disk must not crash the runner; the in-memory tail still works.
    this.#file?.on('error', () => undefined);
  }

  /** Records a chunk the child wrote. */
  write(stream: OutputStream, chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - (this.#chunks[0]?.length ?? 0) >= this.#capacity) {
      const first = this.#chunks.shift();
      if (first === undefined) break;
      this.#size -= first.length;
      this.#cutMidLine = first[first.length - 1] !== 0x0a;
    }
    if (this.#file === undefined) return;
    const pending = Buffer.concat([this.#pending[stream], chunk]);
    const end = pending.lastIndexOf(0x0a);
    if (end >= 0) {
      this.#file.write(redact(pending.subarray(0, end + 1).toString('utf8')));
      this.#pending[stream] = pending.subarray(end + 1);
    } else if (pending.length > MAX_PENDING_LINE) {
      this.#file.write(redact(pending.toString('utf8')));
      this.#pending[stream] = Buffer.alloc(0);
    } else {
      this.#pending[stream] = pending;
    }
  }

  /**
   * The last `maxBytes` (default: all that is kept) of output as redacted text, starting at a
   * line boundary where the cut fell inside a line (so half a secret is never shown).
   */
  tail(maxBytes = Number.POSITIVE_INFINITY): string {
    const all = Buffer.concat(this.#chunks);
    const start = Math.max(0, all.length - maxBytes);
    let slice = all.subarray(start);
    const midLine = start > 0 ? all[start - 1] !== 0x0a : this.#cutMidLine;
    if (midLine) {
      const newline = slice.indexOf(0x0a);
      if (newline >= 0) slice = slice.subarray(newline + 1);
    }
    return redact(slice.toString('utf8'));
  }

  /** The last `count` lines of output (redacted), without a trailing newline. */
  lastLines(count: number): string {
    const lines = this.tail().replace(/\n+$/, '').split('\n');
    return lines.slice(-count).join('\n');
  }

  /** Writes any unfinished lines and closes the log file. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const file = this.#file;
    if (file === undefined || file.destroyed) return;
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.#pending[stream];
      if (rest.length > 0) file.write(`${redact(rest.toString('utf8'))}\n`);
      this.#pending[stream] = Buffer.alloc(0);
    }
    await new Promise<void>((resolve) => {
      file.once('close', resolve);
      file.end();
    });
  }
}
