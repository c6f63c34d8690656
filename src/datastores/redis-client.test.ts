import { describe, expect, it } from 'vitest';

import {
  RespError,
  encodeCommand,
  parseInfo,
  parseKeyspace,
  parseRedisConnection,
  parseReply,
  redisError,
} from './redis-client.js';

describe('RESP encoding and parsing', () => {
  it('encodes commands as arrays of binary-safe bulk strings', () => {
    expect(encodeCommand(['SET', Buffer.from([0, 13, 10]), 42]).toString('latin1')).toBe(
      '*3\r\n$3\r\nSET\r\n$3\r\n\x00\r\n\r\n$2\r\n42\r\n',
    );
  });

  it('parses every reply type, including CRLF inside bulk strings and nested arrays', () => {
    const wire = Buffer.from(
      '+OK\r\n:-12\r\n$4\r\na\r\nb\r\n$-1\r\n*2\r\n*1\r\n$1\r\nx\r\n:3\r\n*-1\r\n-WRONGPASS invalid\r\n',
      'latin1',
    );
    const values: unknown[] = [];
    let offset = 0;
    while (offset < wire.length) {
      const parsed = parseReply(wire, offset);
      if (parsed === undefined) throw new Error(`incomplete at ${offset}`);
      values.push(parsed.value);
      offset = parsed.next;
    }
    expect(values.slice(0, 6)).toEqual([
      Buffer.from('OK'),
      -12,
      Buffer.from('a\r\nb'),
      null,
      [[Buffer.from('x')], 3],
      null,
    ]);
    expect(values[6]).toBeInstanceOf(RespError);
    expect((values[6] as RespError).prefix).toBe('WRONGPASS');
  });

  it('reports an incomplete reply as undefined at every cut point', () => {
    const wire = Buffer.from('*2\r\n$5\r\nhello\r\n:7\r\n');
    for (let cut = 0; cut < wire.length; cut++)
      expect(parseReply(wire.subarray(0, cut)), `cut at ${cut}`).toBeUndefined();
    expect(parseReply(wire)?.next).toBe(wire.length);
  });
});

describe('redis connection strings', () => {
  it('parses host, port, user and password, and keeps the password out of the location', () => {
    const conn = parseRedisConnection('redis://backup:p%40ss@cache.internal:6380/2');
    expect(conn).toEqual({
      host: 'cache.internal',
      port: 6380,
      username: 'backup',
      password: 'p@ss',
      location: 'cache.internal:6380',
    });
    expect(parseRedisConnection('redis://[::1]')).toMatchObject({ host: '::1', port: 6379 });
  });

  it('refuses what it cannot use, as a usage error', () => {
    for (const bad of ['not a url', 'rediss://cache', 'postgres://x/y']) {
      expect(() => parseRedisConnection(bad), bad).toThrow(
        expect.objectContaining({ code: 'SHIP_DATASTORE_BAD_CONNECTION', exitCode: 2 }),
      );
    }
  });
});

describe('redis errors and INFO', () => {
  it('maps socket errors and error replies to stable codes', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(redisError(refused, 'h:1', 'x')).toMatchObject({
      code: 'SHIP_DATASTORE_UNREACHABLE',
      exitCode: 3,
      retryable: true,
    });
    expect(redisError(new RespError('WRONGPASS invalid'), 'h:1', 'x')).toMatchObject({
      code: 'SHIP_DATASTORE_AUTH_FAILED',
    });
    expect(redisError(new RespError('NOAUTH Authentication required.'), 'h:1', 'x')).toMatchObject({
      code: 'SHIP_DATASTORE_AUTH_FAILED',
    });
    const noperm = new RespError("NOPERM this user has no permissions to run the 'psync' command");
    expect(redisError(noperm, 'h:1', 'x')).toMatchObject({
      code: 'SHIP_DATASTORE_PERMISSION_DENIED',
    });
    expect(redisError(new RespError('ERR other'), 'h:1', 'x')).toMatchObject({
      code: 'SHIP_DATASTORE_TOOL_FAILED',
    });
  });

  it('reads key counts per database and server fields', () => {
    const keyspace =
      '# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=0\r\ndb12:keys=40,expires=0,avg_ttl=0\r\n';
    expect([...parseKeyspace(keyspace)]).toEqual([
      [0, 3],
      [12, 40],
    ]);
    expect(parseInfo('# Server\r\nredis_version:7.0.15\r\nrun_id:abc\r\n')).toEqual({
      redis_version: '7.0.15',
      run_id: 'abc',
    });
  });
});
