/** Shared set-up for repository tests: a throwaway local repository, cheap keys, tiny packs. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import {
  Repository,
  openFsBackend,
  type Backend,
  type FileType,
  type FsBackend,
  type InitOptions,
} from '../../src/repo/index.js';

export const TEST_PASSWORD = 'correct horse battery staple';

/** Cheap scrypt, tiny chunks and 64 KiB packs keep the suites fast and give many packs. */
export const FAST_REPO: InitOptions = {
  kdf: { N: 1024, r: 8, p: 1 },
  chunker: { minSize: 1024, avgSize: 4096, maxSize: 16 * 1024 },
  packTargetBytes: 64 * 1024,
  workers: 1,
};

/** A new repository in a temp dir; `cleanups` gets its close and removal (run them in reverse). */
export async function freshTestRepo(
  prefix: string,
  cleanups: (() => Promise<void>)[],
  options: InitOptions = FAST_REPO,
): Promise<{ repo: Repository; backend: FsBackend; root: string }> {
  const dir = await mkdtemp(join(tmpdir(), `shipshape-${prefix}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'repo');
  const backend = openFsBackend(root);
  const repo = await Repository.init(backend, TEST_PASSWORD, options);
  cleanups.push(() => repo.close());
  return { repo, backend, root };
}

/** One buffer as a byte source. */
// eslint-disable-next-line @typescript-eslint/require-await
export async function* once(data: Buffer): AsyncGenerator<Uint8Array> {
  yield data;
}

/** A stream snapshot's bytes. */
export async function restoreBytes(repo: Repository, snapshot: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      parts.push(chunk);
      done();
    },
  });
  await repo.restoreStream(snapshot, sink);
  return Buffer.concat(parts);
}

/** The sorted names of every object of a type. */
export async function objectNames(backend: Backend, type: FileType): Promise<string[]> {
  const found: string[] = [];
  for await (const { name } of backend.list(type)) found.push(name);
  return found.sort();
}
