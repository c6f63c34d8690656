/** A throwaway PostgreSQL server holding a snapshot's data, for drills. */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { registerSecret, type ShipError } from '../core/index.js';

import type { Sandbox, SandboxOptions, SnapshotReader } from './driver.js';
import { withClient } from './postgres-client.js';
import { parsePgConnection } from './postgres-connection.js';
import { checkRestorable, restoreInto } from './postgres-restore.js';
import { findPgTools } from './postgres-tools.js';
import { runChild } from './process.js';
import {
  freePort,
  osUser,
  requireTraversable,
  sandboxFailed as sharedSandboxFailed,
} from './sandbox-support.js';

function manifestServerMajor(from: SnapshotReader): number {
  const version =
    from.snapshot.manifest.toolVersions['postgres'] ??
    from.snapshot.manifest.toolVersions['pg_dump'];
  const major = Number(version?.split('.')[0]);
  return Number.isInteger(major) && major > 0 ? major : 15;
}

export async function sandbox(
  from: SnapshotReader,
  options: SandboxOptions = {},
): Promise<Sandbox> {
  checkRestorable(from);
  const major = manifestServerMajor(from);
  const server = await findPgTools(major, {
    programs: ['initdb', 'pg_ctl', 'postgres'],
    server: true,
  });
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? await osUser('postgres') : undefined;
  const base = options.baseDir ?? tmpdir();
  await mkdir(base, { recursive: true });
  if (owner !== undefined) await requireTraversable(base, 'PostgreSQL', 'postgres');
  const dir = await mkdtemp(join(base, 'shipshape-pg-sandbox-'));
  const data = join(dir, 'data');
  const socketDir = join(dir, 'run');
  const password = randomBytes(18).toString('base64url');
  registerSecret(password);
  const run = (program: string, args: string[]) => {
    const file = server.path(program);
    return owner === undefined
      ? runChild(file, args, { what: program })
      : runChild('runuser', ['-u', 'postgres', '--', file, ...args], { what: program });
  };
  let started = false;
  const stop = async () => {
    if (started) {
      started = false;
      await run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '60', 'stop']).catch(
        () => undefined,
      );
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await mkdir(socketDir);
    const pwfile = join(dir, 'pwfile');
    await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
    if (owner !== undefined) {
      for (const path of [dir, socketDir, pwfile]) await chown(path, owner.uid, owner.gid);
    }
    await chmod(dir, 0o700);
    await run('initdb', [
      '-D',
      data,
      '-U',
      'shipshape',
      '-E',
      'UTF8',
      '--locale=C',
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      `--pwfile=${pwfile}`,
    ]).catch((error: unknown) => {
      throw sandboxFailed('initdb', error);
    });
    await rm(pwfile);
    const port = await freePort();
    await run('pg_ctl', [
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '60',
      '-o',
      `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    ]).catch((error: unknown) => {
      throw sandboxFailed('pg_ctl start', error);
    });
    started = true;
    const admin = parsePgConnection(
      `postgres://shipshape:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    );
    await withClient(admin, 'creating the sandbox database', (client) =>
      client.query('CREATE DATABASE restored'),
    );
    const connection = `postgres://shipshape:${encodeURIComponent(password)}@127.0.0.1:${port}/restored`;
    await restoreInto(from, parsePgConnection(connection), {
      jobs: options.jobs ?? 2,
      noOwner: true,
    });
    return {
      target: { name: `${from.snapshot.manifest.source.name ?? 'postgres'}-sandbox`, connection },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function sandboxFailed(step: string, cause: unknown): ShipError {
  return sharedSandboxFailed(
    'PostgreSQL',
    step,
    cause,
    'install the server package for the backup’s PostgreSQL version and check free disk space',
  );
}
