/** A throwaway PostgreSQL server holding a snapshot's data, for drills. */
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { registerSecret, type ShipError } from '../core/index.js';

import type { KeptSandbox, Sandbox, SandboxOptions, SnapshotReader } from './driver.js';
import { withClient } from './postgres-client.js';
import { parsePgConnection } from './postgres-connection.js';
import { checkRestorable, restorePipelined, startSpool } from './postgres-restore.js';
import { findPgTools } from './postgres-tools.js';
import { runChild } from './process.js';
import {
  freePort,
  osUser,
  requireTraversable,
  sandboxFailed as sharedSandboxFailed,
  shellQuote,
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
  const tools = await findPgTools(server.major);
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
  let kept = false;
  // The archive is fetched while the cluster is created and started: neither needs the other.
  const spool = await startSpool(from);
  const stop = async () => {
    if (kept) return;
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
    await restorePipelined(spool, parsePgConnection(connection), {
      tools,
      jobs: options.jobs ?? 2,
      noOwner: true,
    });
    return {
      target: { name: `${from.snapshot.manifest.source.name ?? 'postgres'}-sandbox`, connection },
      stop,
      keep: async () => {
        const pgCtl = shellQuote(server.path('pg_ctl'));
        const described = await keptServer({
          dir,
          data,
          socketDir,
          port,
          pgCtl,
          asPostgres: owner !== undefined,
        });
        kept = true;
        return described;
      },
    };
  } catch (error) {
    await stop();
    throw error;
  } finally {
    await spool.discard();
  }
}

/**
 * A kept server: pg_ctl started it in its own session, so it already outlives us. Reached over
 * its socket directory (trust auth, only the directory's owner can enter it): no password.
 */
async function keptServer(server: {
  dir: string;
  data: string;
  socketDir: string;
  port: number;
  pgCtl: string;
  asPostgres: boolean;
}): Promise<KeptSandbox> {
  const { dir, data, socketDir, port } = server;
  const pidLine = (await readFile(join(data, 'postmaster.pid'), 'utf8')).split('\n')[0];
  const pid = Number(pidLine);
  const runAs = server.asPostgres ? 'runuser -u postgres -- ' : '';
  const host = socketDir.split('/').map(encodeURIComponent).join('/');
  return {
    connection: `postgres://shipshape@/restored?host=${host}&port=${port}`,
    stop: `${runAs}${server.pgCtl} -D ${shellQuote(data)} -m fast -w stop; rm -rf ${shellQuote(dir)}`,
    ...(Number.isInteger(pid) && pid > 0 ? { pid } : {}),
    dataDir: dir,
  };
}

function sandboxFailed(step: string, cause: unknown): ShipError {
  return sharedSandboxFailed(
    'PostgreSQL',
    step,
    cause,
    'install the server package for the backup’s PostgreSQL version and check free disk space',
  );
}
