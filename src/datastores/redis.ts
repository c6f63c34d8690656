/**
 * Redis: the RDB fetched over the replication protocol (PSYNC ? -1 → FULLRESYNC + the RDB of a
 * fork-time BGSAVE), fingerprinted by loading it into a sandbox redis-server, restored by
 * replaying DUMP payloads from such a sandbox into the target.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';

import { ShipError } from '../core/index.js';
import type { ConsistentPoint } from '../repo/index.js';

import type {
  BackupOptions,
  BackupOutcome,
  BackupSink,
  Driver,
  RestoreOptions,
  Sandbox,
  SandboxOptions,
  ServerIdentity,
  SnapshotReader,
  Target,
} from './driver.js';
import { targetNotEmpty, wrongSnapshot } from './errors.js';
import {
  fingerprintForManifest,
  makeFingerprint,
  type Fingerprint,
  type FingerprintEntry,
} from './fingerprint.js';
import {
  RedisClient,
  RespError,
  connectionClosed,
  parseInfo,
  parseKeyspace,
  parseRedisConnection,
  redisError,
  withRedis,
  type RedisConnection,
  type RespValue,
} from './redis-client.js';
import {
  REDIS_SERVER_TOOL,
  startRedisServer,
  type RedisServer,
  type RedisServerOptions,
} from './redis-sandbox.js';
import { killAndRemoveCommand } from './sandbox-support.js';

/** File name of the RDB inside a working directory. */
const RDB_FILE = 'dump.rdb';
/** Keys read per SCAN step (and per pipelined batch). */
const SCAN_COUNT = 500;
/** How long to wait for the server's BGSAVE to start streaming the RDB. */
const TRANSFER_TIMEOUT_MS = 10 * 60_000;

async function queryIdentity(client: RedisClient, conn: RedisConnection): Promise<ServerIdentity> {
  const info = parseInfo(await client.text('INFO', 'server'));
  return {
    kind: 'redis-run-id',
    id: info['run_id'] ?? 'unknown',
    ...(info['redis_version'] === undefined ? {} : { version: info['redis_version'] }),
    location: conn.location,
  };
}

function bytesOf(value: RespValue): Buffer {
  if (Buffer.isBuffer(value)) return value;
  return Buffer.from(value === null ? '' : String(value));
}

function listOf(value: RespValue): RespValue[] {
  return Array.isArray(value) ? value : [];
}

/** Length-prefixed concatenation, so that no two different part lists hash alike. */
function framed(hash: ReturnType<typeof createHash>, parts: readonly Buffer[]): void {
  const length = Buffer.alloc(4);
  for (const part of parts) {
    length.writeUInt32BE(part.length);
    hash.update(length);
    hash.update(part);
  }
}

/** The value of one key in canonical form: element order fixed where Redis does not fix it. */
async function canonicalValue(client: RedisClient, key: Buffer, type: string): Promise<Buffer[]> {
  switch (type) {
    case 'string':
      return [bytesOf(await client.command('GET', key))];
    case 'list':
      return listOf(await client.command('LRANGE', key, 0, -1)).map(bytesOf);
    case 'set':
      return listOf(await client.command('SMEMBERS', key))
        .map(bytesOf)
        .sort((a, b) => Buffer.compare(a, b));
    case 'hash': {
      const flat = listOf(await client.command('HGETALL', key)).map(bytesOf);
      const pairs: [Buffer, Buffer][] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const [field, value] = [flat[i], flat[i + 1]];
        if (field !== undefined && value !== undefined) pairs.push([field, value]);
      }
      pairs.sort((a, b) => Buffer.compare(a[0], b[0]));
      return pairs.flat();
    }
    case 'zset':
      // Ordered by score, then member: already canonical.
      return listOf(await client.command('ZRANGE', key, 0, -1, 'WITHSCORES')).map(bytesOf);
    case 'stream':
      return listOf(await client.command('XRANGE', key, '-', '+')).flatMap((entry) => {
        const [id, fields] = listOf(entry);
        return [bytesOf(id ?? null), ...listOf(fields ?? null).map(bytesOf)];
      });
    default:
      // Module types: their serialized form.
      return [bytesOf(await client.command('DUMP', key))];
  }
}

/** First 64 bits of the key's digest, as an unsigned integer. */
async function keyDigest(client: RedisClient, key: Buffer): Promise<bigint> {
  const [type, expireAt] = await Promise.all([
    client.text('TYPE', key),
    client.command('PEXPIRETIME', key),
  ]);
  if (type === 'none') return -1n; // expired or deleted between SCAN and now
  const value = await canonicalValue(client, key, type);
  const hash = createHash('sha256');
  framed(hash, [Buffer.from(type), key, Buffer.from(String(expireAt)), ...value]);
  return hash.digest().readBigUInt64BE(0);
}

/** Every key of the selected database, once each (SCAN may repeat keys). */
async function* scanKeys(client: RedisClient): AsyncGenerator<Buffer[]> {
  const seen = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = listOf(await client.command('SCAN', cursor, 'COUNT', SCAN_COUNT));
    cursor = bytesOf(next ?? null).toString();
    const fresh = listOf(keys ?? null)
      .map(bytesOf)
      .filter((key) => {
        const id = key.toString('latin1');
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      });
    if (fresh.length > 0) yield fresh;
  } while (cursor !== '0');
}

/**
 * Fingerprint of a live server, one entry per non-empty database (`db0`, `db3`…). `counts`: the
 * key count of `INFO keyspace`. `full`: every key SCANned and hashed (type, name, absolute expiry
 * from PEXPIRETIME, value in canonical order); the entry's digest is the sum of the keys'
 * 64-bit digests, so key order does not matter. Needs Redis 7.0+ (PEXPIRETIME).
 */
export async function redisFingerprint(
  client: RedisClient,
  mode: 'counts' | 'full',
): Promise<Fingerprint> {
  const dbs = parseKeyspace(await client.text('INFO', 'keyspace'));
  const entries: Record<string, FingerprintEntry> = {};
  try {
    for (const [db, keys] of [...dbs].sort((a, b) => a[0] - b[0])) {
      if (mode === 'counts') {
        entries[`db${db}`] = { rows: keys };
        continue;
      }
      await client.command('SELECT', db);
      let sum = 0n;
      let rows = 0;
      for await (const batch of scanKeys(client)) {
        for (const digest of await Promise.all(batch.map((key) => keyDigest(client, key)))) {
          if (digest < 0n) continue;
          sum = (sum + digest) & 0xffff_ffff_ffff_ffffn;
          rows += 1;
        }
      }
      if (rows > 0) entries[`db${db}`] = { rows, digest: sum.toString(16).padStart(16, '0') };
    }
  } finally {
    if (mode === 'full') await client.command('SELECT', 0).catch(() => undefined);
  }
  const libraries = await functionLibraries(client);
  if (libraries.size > 0) {
    const hash = createHash('sha256');
    for (const name of [...libraries.keys()].sort())
      framed(hash, [Buffer.from(name), libraries.get(name) ?? Buffer.alloc(0)]);
    entries[FUNCTIONS_ENTRY] = {
      rows: libraries.size,
      ...(mode === 'full' ? { digest: hash.digest('hex').slice(0, 16) } : {}),
    };
  }
  return makeFingerprint(mode, entries);
}

/** Name of the fingerprint entry covering Redis Functions libraries (kept in the RDB too). */
export const FUNCTIONS_ENTRY = 'functions';

/** Function libraries: name → code (`FUNCTION LIST WITHCODE`). */
async function functionLibraries(client: RedisClient): Promise<Map<string, Buffer>> {
  const libraries = new Map<string, Buffer>();
  for (const library of listOf(await client.command('FUNCTION', 'LIST', 'WITHCODE'))) {
    const fields = listOf(library);
    let name: string | undefined;
    let code: Buffer | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const field = bytesOf(fields[i] ?? null).toString();
      if (field === 'library_name') name = bytesOf(fields[i + 1] ?? null).toString();
      if (field === 'library_code') code = bytesOf(fields[i + 1] ?? null);
    }
    if (name !== undefined) libraries.set(name, code ?? Buffer.alloc(0));
  }
  return libraries;
}

/** Reads from the replication socket: lines, and then exactly `n` bytes. */
class SocketReader {
  #buffer: Buffer;
  #waiter: (() => void) | undefined;
  #ended: Error | undefined;

  constructor(
    readonly socket: Socket,
    rest: Buffer,
  ) {
    this.#buffer = rest;
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on('error', (error) => {
      this.#ended ??= error;
      this.#wake();
    });
    socket.on('close', () => {
      this.#ended ??= connectionClosed('the server closed the replication connection');
      this.#wake();
    });
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  async #more(): Promise<void> {
    if (this.#ended !== undefined) throw this.#ended;
    await new Promise<void>((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** The next line, skipping the bare `\n` keep-alives the server sends while it saves. */
  async line(): Promise<string> {
    for (;;) {
      while (this.#buffer[0] === 0x0a) this.#buffer = this.#buffer.subarray(1);
      const end = this.#buffer.indexOf('\r\n');
      if (end >= 0) {
        const line = this.#buffer.toString('latin1', 0, end);
        this.#buffer = this.#buffer.subarray(end + 2);
        return line;
      }
      await this.#more();
    }
  }

  /** Copies exactly `length` bytes to `out`. */
  async copy(length: number, out: Writable): Promise<void> {
    let left = length;
    while (left > 0) {
      if (this.#buffer.length === 0) await this.#more();
      const take = Math.min(left, this.#buffer.length);
      if (take === 0) continue;
      const part = this.#buffer.subarray(0, take);
      this.#buffer = this.#buffer.subarray(take);
      left -= take;
      if (!out.write(part)) {
        this.socket.pause();
        await new Promise((resolve) => out.once('drain', resolve));
        this.socket.resume();
      }
    }
  }
}

/**
 * Asks the server for a full resynchronisation and writes the RDB it sends to `file`. The
 * server forks and BGSAVEs (or reuses a BGSAVE in progress for replication); the returned
 * offset is the replication offset the RDB is consistent with.
 */
async function fetchRdb(
  conn: RedisConnection,
  file: string,
  onPoint: (replId: string, offset: string) => Promise<void>,
): Promise<number> {
  const client = await RedisClient.connect(conn, 'starting the backup');
  let reader: SocketReader | undefined;
  try {
    await client.command('REPLCONF', 'capa', 'psync2').catch((error: unknown) => {
      throw redisError(error, conn.location, 'starting replication (REPLCONF)');
    });
    const { socket, rest } = client.detach();
    reader = new SocketReader(socket, rest);
    socket.setTimeout(TRANSFER_TIMEOUT_MS, () => {
      socket.destroy(Object.assign(new Error('no data from the server'), { code: 'ETIMEDOUT' }));
    });
    socket.write('*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n');
    const reply = await reader.line();
    const full = /^\+FULLRESYNC (\S+) (\d+)$/.exec(reply);
    if (full === null) {
      throw redisError(
        reply.startsWith('-') ? new RespError(reply.slice(1)) : new Error(reply),
        conn.location,
        'requesting the RDB (PSYNC)',
      );
    }
    await onPoint(full[1] ?? '', full[2] ?? '');
    const header = await reader.line();
    if (header.startsWith('$EOF:')) throw new Error('the server sent a diskless (EOF-marked) RDB');
    const length = Number(header.slice(1));
    if (!header.startsWith('$') || !Number.isSafeInteger(length) || length < 9)
      throw new Error(`unexpected RDB header from the server: ${header.slice(0, 40)}`);
    const out = createWriteStream(file, { mode: 0o600 });
    const done = new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.once('finish', resolve);
    });
    await reader.copy(length, out);
    out.end();
    await done;
    return length;
  } catch (error) {
    if (error instanceof ShipError) throw error;
    throw redisError(error, conn.location, 'receiving the RDB');
  } finally {
    if (reader === undefined) client.close();
    else reader.socket.destroy();
  }
}

/** Checks the RDB's magic (`REDIS` + 4-digit version) and returns the version. */
async function rdbVersion(file: string): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(9);
    await handle.read(head, 0, 9, 0);
    const match = /^REDIS(\d{4})$/.exec(head.toString('latin1'));
    if (match === null) throw new Error('the server sent something that is not an RDB file');
    return Number(match[1]);
  } finally {
    await handle.close();
  }
}

async function workDir(base: string | undefined, what: string): Promise<string> {
  return mkdtemp(join(base ?? tmpdir(), `shipshape-redis-${what}-`));
}

async function backup(
  target: Target,
  sink: BackupSink,
  options: BackupOptions = {},
): Promise<BackupOutcome> {
  const conn = parseRedisConnection(target.connection);
  const mode = options.fingerprint ?? 'counts';
  const { identity, time } = await withRedis(
    conn,
    'reading the server identity',
    async (client) => {
      const id = await queryIdentity(client, conn);
      const [seconds, micros] = listOf(await client.command('TIME')).map((v) => Number(bytesOf(v)));
      return {
        identity: id,
        time: new Date((seconds ?? 0) * 1000 + Math.floor((micros ?? 0) / 1000)),
      };
    },
  );
  const dir = await workDir(undefined, 'backup');
  try {
    const file = join(dir, RDB_FILE);
    let consistentPoint: ConsistentPoint | undefined;
    await fetchRdb(conn, file, async (replId, offset) => {
      consistentPoint = {
        kind: 'redis-repl-offset',
        value: `${replId}:${offset}`,
        sourceTime: time.toISOString(),
      };
      await options.onConsistentPoint?.(consistentPoint);
    });
    if (consistentPoint === undefined) throw new Error('no consistent point');
    const rdb = await rdbVersion(file);
    let fingerprint: Fingerprint | undefined;
    if (mode !== 'off') fingerprint = await rdbFingerprint(dir, mode);
    const toolVersions: Record<string, string> = {
      redis: identity.version ?? 'unknown',
      rdb: String(rdb),
    };
    const snapshot = await sink.stream(createReadStream(file), {
      consistentPoint,
      toolVersions,
      ...(fingerprint === undefined ? {} : { fingerprints: fingerprintForManifest(fingerprint) }),
    });
    return { snapshot, consistentPoint, identity, fingerprint, toolVersions };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Loads `dir/dump.rdb` into a sandbox server (which checks its CRC64) and fingerprints it. */
async function rdbFingerprint(dir: string, mode: 'counts' | 'full'): Promise<Fingerprint> {
  const server = await startRedisServer(dir, RDB_FILE);
  try {
    return await withRedis(server.conn, 'fingerprinting the RDB', (client) =>
      redisFingerprint(client, mode),
    );
  } finally {
    await server.stop();
  }
}

function checkRestorable(from: SnapshotReader): void {
  const { id, manifest } = from.snapshot;
  if (manifest.source.kind !== undefined && manifest.source.kind !== 'redis')
    throw wrongSnapshot(id, `is a backup of a ${manifest.source.kind} data store, not redis`);
  if (manifest.content.type !== 'stream')
    throw wrongSnapshot(id, 'holds a directory tree, not an RDB file');
}

/** Writes the snapshot to `dir/dump.rdb` and starts a server on it. */
async function serverOn(
  from: SnapshotReader,
  dir: string,
  options: RedisServerOptions = {},
): Promise<RedisServer> {
  const file = join(dir, RDB_FILE);
  const out = createWriteStream(file, { mode: 0o600 });
  await from.stream(out);
  if (!out.writableFinished) {
    await new Promise<void>((resolve) => {
      out.once('finish', () => {
        resolve();
      });
    });
  }
  try {
    await rdbVersion(file);
  } catch {
    throw wrongSnapshot(from.snapshot.id, 'does not hold an RDB file');
  }
  return startRedisServer(dir, RDB_FILE, options);
}

/** Copies every key of `source` into `target` with DUMP/RESTORE … ABSTTL, db by db. */
async function replay(source: RedisClient, target: RedisClient): Promise<number> {
  const dbs = parseKeyspace(await source.text('INFO', 'keyspace'));
  let copied = 0;
  for (const db of [...dbs.keys()].sort((a, b) => a - b)) {
    await source.command('SELECT', db);
    await target.command('SELECT', db);
    for await (const batch of scanKeys(source)) {
      const dumped = await Promise.all(
        batch.map(async (key) => {
          const [payload, expireAt] = await Promise.all([
            source.command('DUMP', key),
            source.command('PEXPIRETIME', key),
          ]);
          return { key, payload, expireAt: Number(expireAt) };
        }),
      );
      await Promise.all(
        dumped
          .filter((item) => Buffer.isBuffer(item.payload))
          .map((item) =>
            target.command(
              'RESTORE',
              item.key,
              item.expireAt > 0 ? item.expireAt : 0,
              item.payload as Buffer,
              ...(item.expireAt > 0 ? ['ABSTTL'] : []),
            ),
          ),
      );
      copied += dumped.length;
    }
  }
  await target.command('SELECT', 0);
  const functions = await source.command('FUNCTION', 'DUMP');
  if ((await functionLibraries(source)).size > 0 && Buffer.isBuffer(functions))
    await target.command('FUNCTION', 'RESTORE', functions);
  return copied;
}

async function restore(
  from: SnapshotReader,
  target: Target,
  options: RestoreOptions = {},
): Promise<void> {
  checkRestorable(from);
  const conn = parseRedisConnection(target.connection);
  const client = await RedisClient.connect(conn, 'checking the restore target');
  let dir: string | undefined;
  let server: RedisServer | undefined;
  try {
    const dbs = parseKeyspace(await client.text('INFO', 'keyspace'));
    const keys = [...dbs.values()].reduce((a, b) => a + b, 0);
    const libraries = (await functionLibraries(client)).size;
    if ((keys > 0 || libraries > 0) && options.force !== true) {
      throw targetNotEmpty(
        conn.location,
        `${keys} key(s) in ${dbs.size} database(s), ${libraries} function librar${libraries === 1 ? 'y' : 'ies'}`,
      );
    }
    dir = await workDir(undefined, 'restore');
    server = await serverOn(from, dir);
    if (keys > 0) await client.command('FLUSHALL');
    if (libraries > 0) await client.command('FUNCTION', 'FLUSH');
    const source = await RedisClient.connect(server.conn, 'reading the snapshot');
    try {
      await replay(source, client);
    } finally {
      source.close();
    }
  } catch (error) {
    throw redisError(error, conn.location, 'restoring');
  } finally {
    client.close();
    await server?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
}

async function sandbox(from: SnapshotReader, options: SandboxOptions = {}): Promise<Sandbox> {
  checkRestorable(from);
  const dir = await workDir(options.baseDir, 'sandbox');
  let server: RedisServer | undefined;
  let kept = false;
  const stop = async () => {
    if (kept) return;
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const running = await serverOn(from, dir, { keepable: true });
    server = running;
    return {
      target: {
        name: `${from.snapshot.manifest.source.name ?? 'redis'}-sandbox`,
        connection: running.url,
      },
      stop,
      keep: async () => {
        const { pid, socket } = await running.keep();
        kept = true;
        return {
          // Without a socket the password stays; it is in `requirepass` of dir/sandbox.conf.
          connection:
            socket === undefined ? `redis://${running.conn.location}` : `unix://${socket}`,
          stop: killAndRemoveCommand(pid, dir),
          pid,
          dataDir: dir,
        };
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Redis: the RDB over the replication protocol; see docs/datastores/redis.md. */
export const redisDriver: Driver = {
  kind: 'redis',
  tools: () => [REDIS_SERVER_TOOL],
  identity: (target) => {
    const conn = parseRedisConnection(target.connection);
    return withRedis(conn, 'reading the server identity', (client) => queryIdentity(client, conn));
  },
  backup,
  restore,
  fingerprint: (target, mode) => {
    const conn = parseRedisConnection(target.connection);
    return withRedis(conn, 'computing the fingerprint', (client) => redisFingerprint(client, mode));
  },
  sandbox,
};
