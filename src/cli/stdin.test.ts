import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, openSync, write } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFd } from './stdin.js';

/** Copies every piece (they are views of one reused buffer) and notes their buffers. */
async function collect(source: AsyncIterable<Uint8Array>) {
  const copies: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  for await (const piece of source) {
    copies.push(Buffer.from(piece));
    buffers.add(piece.buffer);
  }
  return { bytes: Buffer.concat(copies), pieces: copies.length, buffers };
}

function writeAll(fd: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    write(fd, bytes, 0, bytes.length, null, (error, written) => {
      if (error) reject(error);
      else if (written < bytes.length) writeAll(fd, bytes.subarray(written)).then(resolve, reject);
      else resolve();
    });
  });
}

describe('readFd', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipshape-stdin-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file from its position to the end through one reused buffer', async () => {
    const data = randomBytes(5555);
    const file = join(dir, 'data');
    await writeFile(file, data);
    const fd = openSync(file, 'r');
    try {
      const never = () => {
        throw new Error('a regular file never blocks');
      };
      const { bytes, pieces, buffers } = await collect(readFd(fd, 1000, never));
      expect(bytes.equals(data)).toBe(true);
      expect(pieces).toBe(6);
      expect(buffers.size).toBe(1);
    } finally {
      closeSync(fd);
    }
  });

  it.skipIf(process.platform === 'win32')(
    'hands a non-blocking pipe over to the fallback stream without losing a byte',
    async () => {
      const fifo = join(dir, 'fifo');
      execFileSync('mkfifo', [fifo]);
      const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const writeEnd = openSync(fifo, constants.O_WRONLY);
      let fellBack = false;
      // The pipe is empty and its writer open: the first read fails with EAGAIN.
      const reading = collect(
        readFd(readEnd, 4096, () => {
          fellBack = true;
          return new Socket({ fd: readEnd, readable: true, writable: false });
        }),
      );
      const data = randomBytes(300_000);
      await writeAll(writeEnd, data);
      closeSync(writeEnd);
      const { bytes } = await reading; // the socket closes readEnd at the end
      expect(fellBack).toBe(true);
      expect(bytes.equals(data)).toBe(true);
    },
  );
});
