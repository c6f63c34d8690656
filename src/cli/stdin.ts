import { fstatSync, read } from 'node:fs';

/** Bytes per read of standard input when it is a file or a pipe. */
export const STDIN_READ_BYTES = 4 * 1024 * 1024;

/**
 * Standard input as a byte source (`repo backup -`). A regular file (`< dump.sql`) or a pipe
 * (`pg_dump | …`) is read into one reused 4 MiB buffer instead of a fresh 64 KiB buffer per
 * read (garbage collection was a quarter of a backup's main-thread time), so the consumer must
 * be done with each piece before it asks for the next — the chunker copies every piece in.
 * Anything else (a terminal, a socket) is process.stdin itself.
 */
export function stdinSource(): AsyncIterable<Uint8Array> {
  let direct: boolean;
  try {
    const stat = fstatSync(0);
    direct = stat.isFile() || stat.isFIFO();
  } catch {
    direct = false;
  }
  return direct ? readFd(0, STDIN_READ_BYTES, () => process.stdin) : process.stdin;
}

/**
 * Reads `fd` from its current position to the end, yielding views of one reused buffer of
 * `size` bytes (each valid until the next is asked for). A read that would block (`EAGAIN`: a
 * pipe some other process made non-blocking) hands the rest over to `fallback()`, a stream on
 * the same descriptor that waits for data on the event loop; no byte is lost, as the failed
 * read took none.
 */
export async function* readFd(
  fd: number,
  size: number,
  fallback: () => AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const buffer = Buffer.allocUnsafeSlow(size);
  for (;;) {
    let bytesRead: number;
    try {
      bytesRead = await new Promise<number>((resolve, reject) => {
        read(fd, buffer, 0, size, null, (error, n) => {
          if (error) reject(error);
          else resolve(n);
        });
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      yield* fallback();
      return;
    }
    if (bytesRead === 0) return;
    yield buffer.subarray(0, bytesRead);
  }
}
