import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

import { isShipError, type ShipError } from '../core/index.js';

import { findPgTools, parsePgVersion } from './postgres-tools.js';

const cleanups: string[] = [];
afterEach(async () => {
  for (const dir of cleanups.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A fake program that prints `version` like the real one. */
async function fakeProgram(dir: string, name: string, version: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, name);
  await writeFile(
    file,
    `#!/bin/sh\necho "${name} (PostgreSQL) ${version} (Debian ${version}-1)"\n`,
  );
  await chmod(file, 0o755);
}

/** A Debian-like layout: <root>/<major>/bin/{pg_dump,pg_restore} for each version. */
async function layout(versions: string[], partial: string[] = []): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'shipshape-pgtools-'));
  cleanups.push(root);
  for (const version of versions) {
    const bin = join(root, 'lib', version.split('.')[0]!, 'bin');
    await fakeProgram(bin, 'pg_dump', version);
    await fakeProgram(bin, 'pg_restore', version);
  }
  for (const version of partial)
    await fakeProgram(join(root, 'lib', version.split('.')[0]!, 'bin'), 'pg_dump', version);
  return root;
}

describe('findPgTools', () => {
  it('picks the version matching the server where several are installed', async () => {
    const root = await layout(['12.19', '14.12', '15.8', '16.4']);
    const tools = await findPgTools(14, { roots: [join(root, 'lib')], path: '' });
    expect(tools).toMatchObject({
      major: 14,
      version: '14.12',
      bin: join(root, 'lib', '14', 'bin'),
    });
    expect(tools.path('pg_restore')).toBe(join(root, 'lib', '14', 'bin', 'pg_restore'));
  });

  it('falls back to the oldest newer version, never an older one', async () => {
    const root = await layout(['12.19', '16.4', '17.0']);
    const tools = await findPgTools(15, { roots: [join(root, 'lib')], path: '' });
    expect(tools.major).toBe(16);
  });

  it('skips a version directory without every program', async () => {
    const root = await layout(['16.4'], ['15.8']);
    expect((await findPgTools(15, { roots: [join(root, 'lib')], path: '' })).major).toBe(16);
  });

  it('uses PATH when the layout has nothing suitable, checking the version it prints', async () => {
    const root = await layout(['13.1']);
    const onPath = join(root, 'usr-bin');
    await fakeProgram(onPath, 'pg_dump', '16.2');
    await fakeProgram(onPath, 'pg_restore', '16.2');
    const tools = await findPgTools(15, {
      roots: [join(root, 'lib')],
      path: `/nonexistent:${onPath}`,
    });
    expect(tools).toMatchObject({ major: 16, version: '16.2', bin: onPath });
  });

  it('refuses a too-old client and names the package for the server version', async () => {
    const root = await layout(['12.19']);
    const onPath = join(root, 'usr-bin');
    await fakeProgram(onPath, 'pg_dump', '13.0');
    await fakeProgram(onPath, 'pg_restore', '13.0');
    const error = (await findPgTools(15, { roots: [join(root, 'lib')], path: onPath }).catch(
      (e: unknown) => e,
    )) as ShipError;
    expect(isShipError(error)).toBe(true);
    expect(error.code).toBe('SHIP_DATASTORE_TOOL_MISSING');
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain('PostgreSQL 15');
    expect(error.message).toContain('found only 12 in');
    expect(error.message).toContain('13.0 in');
    expect(error.hint).toContain('apt-get install postgresql-client-15');
    expect(error.hint).toContain('brew install libpq');
  });

  it('names the server package when server programs are missing', async () => {
    const error = (await findPgTools(15, {
      roots: [],
      path: '',
      programs: ['initdb', 'pg_ctl'],
      server: true,
    }).catch((e: unknown) => e)) as ShipError;
    expect(error.code).toBe('SHIP_DATASTORE_TOOL_MISSING');
    expect(error.hint).toContain('apt-get install postgresql-15');
    expect(error.hint).toContain('brew install postgresql@15');
  });

  it('a pinned directory is the only one considered', async () => {
    const root = await layout(['15.8', '16.4']);
    const pinned = join(root, 'lib', '16', 'bin');
    expect((await findPgTools(15, { roots: [join(root, 'lib')], binDir: pinned })).major).toBe(16);
    await expect(
      findPgTools(15, { roots: [join(root, 'lib')], binDir: join(root, 'nothing') }),
    ).rejects.toMatchObject({ code: 'SHIP_DATASTORE_TOOL_MISSING' });
  });
});

describe('parsePgVersion', () => {
  it('reads the version pg_dump prints', () => {
    expect(parsePgVersion('pg_dump (PostgreSQL) 15.8 (Debian 15.8-1.pgdg120+1)')).toBe('15.8');
    expect(parsePgVersion('pg_restore (PostgreSQL) 17devel')).toBe('17');
    expect(parsePgVersion('something else')).toBeUndefined();
  });
});
