import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import {
  armFailpoints,
  disarmFailpoints,
  failpointTrace,
  isSimulatedCrash,
} from '../../src/core/index.js';
import { openFsBackend, type FsOps } from '../../src/repo/backend/index.js';
import { PowerLossFs } from '../helpers/power-loss.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  disarmFailpoints();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function model(files: Record<string, string> = {}): Promise<PowerLossFs> {
  const dir = await mkdtemp(join(tmpdir(), 'shipshape-power-loss-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return PowerLossFs.start(dir);
}

/** Creates `name` in `folder` through the model, writes `text`, optionally fsyncs it. */
async function create(ops: FsOps, path: string, text: string, sync: boolean): Promise<void> {
  const handle = await ops.open(path, 'wx', 0o600);
  try {
    const bytes = Buffer.from(text);
    await handle.write(bytes, 0, bytes.length);
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncFolder(ops: FsOps, folder: string): Promise<void> {
  const handle = await ops.open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[path.slice(root.length + 1)] = await readFile(path, 'utf8');
  }
  return out;
}

describe('power-loss model', () => {
  it('keeps what existed at the start', async () => {
    const fs = await model({ a: 'one', b: 'two' });
    expect(await fs.powerLoss()).toEqual({ lost: [] });
    expect(await tree(fs.root)).toEqual({ a: 'one', b: 'two' });
  });

  it('drops a new file whose folder was never fsynced, even when the file was', async () => {
    const fs = await model();
    await create(fs.ops, join(fs.root, 'synced'), 'data', true);
    await create(fs.ops, join(fs.root, 'unsynced'), 'data', false);
    expect(await tree(fs.root)).toEqual({ synced: 'data', unsynced: 'data' });
    expect(await fs.powerLoss()).toEqual({ lost: ['synced', 'unsynced'] });
    expect(await tree(fs.root)).toEqual({});
  });

  it('keeps a fsynced file in a fsynced folder; an unsynced file comes back empty', async () => {
    const fs = await model();
    await create(fs.ops, join(fs.root, 'synced'), 'data', true);
    await create(fs.ops, join(fs.root, 'unsynced'), 'data', false);
    await syncFolder(fs.ops, fs.root);
    await fs.powerLoss();
    expect(await tree(fs.root)).toEqual({ synced: 'data', unsynced: '' });
  });

  it('rolls content back to the last fsync', async () => {
    const fs = await model();
    const path = join(fs.root, 'f');
    const handle = await fs.ops.open(path, 'wx', 0o600);
    await handle.write(Buffer.from('abc'), 0, 3);
    await handle.sync();
    await handle.write(Buffer.from('def'), 0, 3);
    await handle.close();
    await syncFolder(fs.ops, fs.root);
    expect(await readFile(path, 'utf8')).toBe('abcdef');
    await fs.powerLoss();
    expect(await tree(fs.root)).toEqual({ f: 'abc' });
  });

  it('undoes a rename over an existing file until the folder is fsynced', async () => {
    const fs = await model({ a: 'old' });
    const temp = join(fs.root, '.tmp-1');
    await create(fs.ops, temp, 'new', true);
    await fs.ops.rename(temp, join(fs.root, 'a'));
    expect(await tree(fs.root)).toEqual({ a: 'new' });
    expect(await fs.powerLoss()).toEqual({ lost: ['a'] });
    expect(await tree(fs.root)).toEqual({ a: 'old' });

    await create(fs.ops, temp, 'new', true);
    await fs.ops.rename(temp, join(fs.root, 'a'));
    await syncFolder(fs.ops, fs.root);
    await fs.powerLoss();
    expect(await tree(fs.root)).toEqual({ a: 'new' });
  });

  it('brings back an unlinked file until the folder is fsynced', async () => {
    const fs = await model({ a: 'keep', b: 'gone' });
    await fs.ops.unlink(join(fs.root, 'a'));
    await fs.ops.unlink(join(fs.root, 'b'));
    await fs.powerLoss();
    expect(await tree(fs.root)).toEqual({ a: 'keep', b: 'gone' });
    await fs.ops.unlink(join(fs.root, 'b'));
    await syncFolder(fs.ops, fs.root);
    await fs.powerLoss();
    expect(await tree(fs.root)).toEqual({ a: 'keep' });
  });

  it('keeps a hard link made durable, and the temp name when its unlink was not', async () => {
    const fs = await model();
    const temp = join(fs.root, '.tmp-1');
    await create(fs.ops, temp, 'pack', true);
    await fs.ops.link(temp, join(fs.root, 'p'));
    await syncFolder(fs.ops, fs.root);
    await fs.ops.unlink(temp);
    await fs.powerLoss();
    expect(await tree(fs.root)).toEqual({ '.tmp-1': 'pack', p: 'pack' });
  });

  it('loses a new folder (and its fsynced content) until its parent is fsynced', async () => {
    const fs = await model();
    const sub = join(fs.root, 'sub');
    await fs.ops.mkdir(sub, { recursive: true, mode: 0o700 });
    await create(fs.ops, join(sub, 'f'), 'x', true);
    await syncFolder(fs.ops, sub);
    await fs.powerLoss();
    expect(await readdir(fs.root)).toEqual([]);

    await fs.ops.mkdir(sub, { recursive: true, mode: 0o700 });
    await syncFolder(fs.ops, fs.root);
    await create(fs.ops, join(sub, 'f'), 'x', true);
    await syncFolder(fs.ops, sub);
    await fs.powerLoss();
    expect(await tree(fs.root)).toEqual({ 'sub/f': 'x' });
  });

  it('refuses every disk change once the process is dead, and revives after the power loss', async () => {
    const fs = await model({ a: 'one' });
    fs.setDead(() => true);
    const refused = [
      fs.ops.unlink(join(fs.root, 'a')),
      fs.ops.open(join(fs.root, 'b'), 'wx', 0o600),
      fs.ops.mkdir(join(fs.root, 'c'), { recursive: true, mode: 0o700 }),
      fs.ops.rename(join(fs.root, 'a'), join(fs.root, 'd')),
      fs.ops.link(join(fs.root, 'a'), join(fs.root, 'e')),
    ];
    for (const result of await Promise.allSettled(refused)) {
      expect(result.status).toBe('rejected');
      expect(isSimulatedCrash((result as PromiseRejectedResult).reason)).toBe(true);
    }
    // Reads still work: they change nothing.
    expect((await fs.ops.readFile(join(fs.root, 'a'))).toString()).toBe('one');
    await fs.powerLoss();
    await fs.ops.unlink(join(fs.root, 'a'));
    expect(await tree(fs.root)).toEqual({});
  });

  it('under the fs backend: a new folder survives once its parent is fsynced', async () => {
    const fs = await model();
    const backend = openFsBackend(fs.root, { ops: fs.ops });
    const seen: string[] = [];
    for (const point of ['backend.mkdir.created', 'backend.mkdir.synced']) {
      armFailpoints(`${point}=1`);
      fs.setDead(() => failpointTrace().includes(point));
      const error = await backend.put('data', 'ab01', Buffer.from('pack')).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(isSimulatedCrash(error), point).toBe(true);
      await fs.powerLoss();
      disarmFailpoints();
      const folders = await readdir(fs.root, { recursive: true });
      seen.push(`${point}: ${folders.sort().join(' ')}`);
    }
    expect(seen).toEqual(['backend.mkdir.created: ', 'backend.mkdir.synced: data data/ab']);
  });

  it('under the fs backend: a put is durable only once its folder is fsynced', async () => {
    const fs = await model();
    const backend = openFsBackend(fs.root, { ops: fs.ops });
    await backend.put('snapshots', 'aa01', Buffer.from('first'));
    const steps: string[] = [];
    for (const point of [
      'backend.put.written',
      'backend.put.synced',
      'backend.put.renamed',
      'backend.put.dir-synced',
    ]) {
      armFailpoints(`${point}=1`);
      fs.setDead(() => failpointTrace().includes(point));
      const error = await backend.put('snapshots', 'aa02', Buffer.from('second')).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(isSimulatedCrash(error), point).toBe(true);
      await fs.powerLoss();
      disarmFailpoints();
      const files = await tree(fs.root);
      steps.push(`${point}: ${Object.keys(files).sort().join(' ')}`);
      if (files['snapshots/aa02'] !== undefined) await backend.remove('snapshots', 'aa02');
    }
    expect(steps).toEqual([
      'backend.put.written: snapshots/aa01',
      'backend.put.synced: snapshots/aa01',
      'backend.put.renamed: snapshots/aa01',
      'backend.put.dir-synced: snapshots/aa01 snapshots/aa02',
    ]);
    expect(await tree(fs.root)).toEqual({ 'snapshots/aa01': 'first' });
  });
});
