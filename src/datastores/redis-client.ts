/** A small RESP2 client for the Redis driver: binary-safe, pipelined, password over the socket. */
import { connect as netConnect, type Socket } from 'node:net';

import { ShipError, isSimulatedCrash, registerSecret } from '../core/index.js';

import { DatastoreErrorCode } from './errors.js';

/** A parsed `redis://` connection. */
/** Error code of a connection the server closed (not a socket error of our own). */
const CLOSED = 'SHIP_REDIS_CONNECTION_CLOSED';

/**
 * The error for a connection the server closed mid-command (a restart, a shutdown): mapped by
 * {@link redisError} to the retryable `SHIP_DATASTORE_UNREACHABLE`, like a refused connection.
 */
export function connectionClosed(message: string): Error {
  return Object.assign(new Error(message), { code: CLOSED });
}

export interface RedisConnection {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  /** host:port, without credentials. */
  readonly location: string;
}

/**
 * Parses `redis://[user][:password]@host[:port][/db]`. The database number is accepted and
 * ignored: a backup always covers the whole server (every database).
 */
export function parseRedisConnection(text: string): RedisConnection {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw badConnection('is not a URL');
  }
  if (url.protocol === 'rediss:')
    throw badConnection('uses TLS (rediss://), which this driver does not support');
  if (url.protocol !== 'redis:') throw badConnection(`has scheme ${url.protocol} (want redis://)`);
  if (url.hostname === '') throw badConnection('has no host');
  const port = url.port === '' ? 6379 : Number(url.port);
  const username = url.username === '' ? undefined : decodeURIComponent(url.username);
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  if (password !== undefined) registerSecret(password);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    host,
    port,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    location: `${url.hostname}:${port}`,
  };
}

function badConnection(why: string): ShipError {
  return ShipError.usage(DatastoreErrorCode.badConnection, `the redis connection string ${why}`, {
    hint: 'use redis://[:password]@host[:port], e.g. redis://:${env:REDIS_PASSWORD}@cache:6379',
  });
}

/** An error reply (`-ERR …`) from the server. */
export class RespError extends Error {
  override readonly name = 'RespError';
  /** First word of the reply: ERR, WRONGPASS, NOAUTH, NOPERM, LOADING… */
  get prefix(): string {
    return this.message.split(' ', 1)[0] ?? '';
  }
}

/** A RESP2 reply. Bulk strings stay bytes. */
export type RespValue = Buffer | number | null | RespValue[];

const CRLF = Buffer.from('\r\n');

/** Encodes one command as a RESP array of bulk strings. */
export function encodeCommand(args: readonly (string | Buffer | number)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/**
 * Parses one reply at `offset`: `{ value, next }`, or undefined when `buffer` does not hold all of
 * it yet. Error replies come back as {@link RespError} values.
 */
export function parseReply(
  buffer: Buffer,
  offset = 0,
): { value: RespValue | RespError; next: number } | undefined {
  const end = buffer.indexOf(CRLF, offset);
  if (end < 0) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('latin1', offset + 1, end);
  const after = end + 2;
  switch (type) {
    case '+':
      return { value: Buffer.from(line, 'latin1'), next: after };
    case '-':
      return { value: new RespError(buffer.toString('utf8', offset + 1, end)), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: after };
      if (buffer.length < after + length + 2) return undefined;
      return { value: buffer.subarray(after, after + length), next: after + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next);
        if (item === undefined) return undefined;
        // An error inside an array (EXEC) is kept as its text.
        items.push(item.value instanceof RespError ? Buffer.from(item.value.message) : item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte 0x${(buffer[offset] ?? 0).toString(16)}`);
  }
}

interface Pending {
  resolve: (value: RespValue) => void;
  reject: (error: Error) => void;
}

/** Milliseconds to wait for a TCP connection. */
const CONNECT_TIMEOUT_MS = 10_000;

/** One connection; commands may be issued without awaiting (they are pipelined in order). */
export class RedisClient {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #pending: Pending[] = [];
  #failure: Error | undefined;
  readonly #onData = (chunk: Buffer) => {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    this.#drain();
  };

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('error', (error) => {
      this.#fail(error);
    });
    socket.on('close', () => {
      // A server that restarts or shuts down mid-command: as retryable as a refused connection.
      this.#fail(connectionClosed('connection closed by the server'));
    });
  }

  /** Connects and authenticates (AUTH over the socket, never on a command line). */
  static async connect(conn: RedisConnection, what: string): Promise<RedisClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ host: conn.host, port: conn.port });
      s.setTimeout(CONNECT_TIMEOUT_MS, () => {
        s.destroy(Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' }));
      });
      s.once('error', reject);
      s.once('connect', () => {
        s.setTimeout(0);
        s.off('error', reject);
        resolve(s);
      });
    }).catch((error: unknown) => {
      throw redisError(error, conn.location, what);
    });
    const client = new RedisClient(socket);
    try {
      if (conn.password !== undefined) {
        await client.command(
          ...(conn.username === undefined
            ? ['AUTH', conn.password]
            : ['AUTH', conn.username, conn.password]),
        );
      }
      return client;
    } catch (error) {
      client.close();
      throw redisError(error, conn.location, what);
    }
  }

  /** Sends a command; resolves with its reply, rejects with {@link RespError} on an error reply. */
  command(...args: (string | Buffer | number)[]): Promise<RespValue> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#socket.write(encodeCommand(args));
    });
  }

  /** A command whose reply is a bulk or simple string, as text. */
  async text(...args: (string | Buffer | number)[]): Promise<string> {
    const reply = await this.command(...args);
    return Buffer.isBuffer(reply) ? reply.toString('utf8') : String(reply);
  }

  /**
   * Hands the raw socket over (for the replication stream) with whatever was read past the
   * last reply. The client is unusable afterwards.
   */
  detach(): { socket: Socket; rest: Buffer } {
    this.#socket.off('data', this.#onData);
    this.#socket.removeAllListeners('close');
    this.#socket.removeAllListeners('error');
    const rest = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    this.#failure = new Error('connection detached');
    return { socket: this.#socket, rest };
  }

  close(): void {
    this.#fail(new Error('connection closed'));
    this.#socket.destroy();
  }

  #drain(): void {
    let offset = 0;
    while (this.#pending.length > 0) {
      const parsed = parseReply(this.#buffer, offset);
      if (parsed === undefined) break;
      offset = parsed.next;
      const waiter = this.#pending.shift();
      if (parsed.value instanceof RespError) waiter?.reject(parsed.value);
      else waiter?.resolve(parsed.value);
    }
    this.#buffer = offset === 0 ? this.#buffer : Buffer.from(this.#buffer.subarray(offset));
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#pending.splice(0)) waiter.reject(error);
  }
}

/** Runs `fn` with a connected client and closes it. */
export async function withRedis<T>(
  conn: RedisConnection,
  what: string,
  fn: (client: RedisClient) => Promise<T>,
): Promise<T> {
  const client = await RedisClient.connect(conn, what);
  try {
    return await fn(client);
  } catch (error) {
    throw redisError(error, conn.location, what);
  } finally {
    client.close();
  }
}

const UNREACHABLE = new Set([
  CLOSED,
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** Maps a socket error or error reply to a ShipError with a stable code. */
export function redisError(error: unknown, location: string, what: string): Error {
  // A ShipError already says what happened; a simulated crash must reach the test harness as is.
  if (error instanceof ShipError || isSimulatedCrash(error)) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code !== undefined && UNREACHABLE.has(code)) {
    return ShipError.runtime(
      DatastoreErrorCode.unreachable,
      `cannot reach redis at ${location} while ${what}: ${message}`,
      {
        retryable: true,
        hint: 'check that the server runs and that host and port in the connection string are right',
      },
    );
  }
  if (error instanceof RespError) {
    const prefix = error.prefix;
    if (
      prefix === 'WRONGPASS' ||
      prefix === 'NOAUTH' ||
      /invalid password|without any password/i.test(message)
    ) {
      return ShipError.runtime(
        DatastoreErrorCode.authFailed,
        `redis at ${location} rejected the credentials while ${what}: ${message}`,
        {
          hint: 'check the password (and user) in the connection string, e.g. redis://:${env:REDIS_PASSWORD}@host',
        },
      );
    }
    if (prefix === 'NOPERM') {
      return ShipError.runtime(
        DatastoreErrorCode.permissionDenied,
        `redis at ${location} refused a command while ${what}: ${message}`,
        {
          hint: 'grant the ACL user the commands the driver needs (see docs/datastores/redis.md): +info +time +psync +replconf +scan +type +dump +select and the read commands',
        },
      );
    }
  }
  return ShipError.runtime(
    DatastoreErrorCode.toolFailed,
    `redis at ${location} failed while ${what}: ${message}`,
    { cause: error, hint: 'see the server log; the message above is the server’s reply' },
  );
}

/** `db0:keys=3,expires=1,avg_ttl=0` lines of `INFO keyspace`: database number → key count. */
export function parseKeyspace(info: string): Map<number, number> {
  const dbs = new Map<number, number>();
  for (const line of info.split(/\r?\n/)) {
    const match = /^db(\d+):keys=(\d+)/.exec(line);
    if (match) dbs.set(Number(match[1]), Number(match[2]));
  }
  return dbs;
}

/** `field:value` lines of an INFO section. */
export function parseInfo(info: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of info.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}
