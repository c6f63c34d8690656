import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isShipError, redact, type ShipError } from '../core/index.js';

import {
  findMariadbTool,
  mariadbErrorNumber,
  mariadbToolError,
  parseMariadbConnection,
  parseMariadbVersion,
  passwordEnv,
  quoteIdent,
} from './mariadb-client.js';
import { binlogPosition, dumpArgs } from './mariadb.js';

describe('parseMariadbConnection', () => {
  it('splits a URL and keeps the password out of the printable location', () => {
    const conn = parseMariadbConnection('mysql://backup:s%40cret%2Fpw@db.internal:3307/orders');
    expect(conn).toEqual({
      host: 'db.internal',
      port: 3307,
      user: 'backup',
      password: 's@cret/pw',
      database: 'orders',
      location: 'backup@db.internal:3307/orders',
    });
    expect(redact('leaked s@cret/pw here')).not.toContain('s@cret/pw');
    expect(passwordEnv(conn)).toEqual({ MYSQL_PWD: 's@cret/pw' });
  });

  it('accepts mariadb:// and defaults the port', () => {
    const conn = parseMariadbConnection('mariadb://app@localhost/shop');
    expect(conn.port).toBe(3306);
    expect(conn.password).toBeUndefined();
    expect(passwordEnv(conn)).toEqual({ MYSQL_PWD: undefined });
  });

  it.each([
    ['postgres://u@h/db', /not a mysql:\/\/ or mariadb:\/\/ URL/],
    ['mysql://u@h', /names no database/],
    ['mysql://u@h/', /names no database/],
  ])('rejects %s with SHIP_DATASTORE_BAD_CONNECTION (exit 2)', (text, message) => {
    const error = (() => {
      try {
        parseMariadbConnection(text);
        return undefined;
      } catch (e) {
        return e;
      }
    })() as ShipError;
    expect(isShipError(error)).toBe(true);
    expect(error.code).toBe('SHIP_DATASTORE_BAD_CONNECTION');
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(message);
  });
});

describe('dump options', () => {
  const conn = parseMariadbConnection('mysql://backup:pw-never-on-argv@127.0.0.1:3306/orders');
  const mariadb = { mariadb: true, version: '10.11.6-MariaDB' };

  it('never put the password on the command line', () => {
    for (const logBin of [false, true]) {
      expect(dumpArgs(mariadb, conn, logBin).join(' ')).not.toContain('pw-never-on-argv');
    }
  });

  it('take one InnoDB snapshot with every object kind, binary safe', () => {
    const args = dumpArgs(mariadb, conn, false);
    expect(args[0]).toBe('--no-defaults');
    expect(args).toEqual(
      expect.arrayContaining([
        '--single-transaction',
        '--quick',
        '--routines',
        '--triggers',
        '--events',
        '--hex-blob',
      ]),
    );
    expect(args.at(-1)).toBe('orders');
    expect(args.some((arg) => arg.startsWith('--master-data'))).toBe(false);
  });

  it('record the binary-log position only when binary logging is on', () => {
    expect(dumpArgs(mariadb, conn, true)).toEqual(
      expect.arrayContaining(['--master-data=2', '--gtid']),
    );
    const mysql8 = dumpArgs({ mariadb: false, version: '8.0.36' }, conn, true);
    expect(mysql8).toEqual(
      expect.arrayContaining(['--source-data=2', '--column-statistics=0', '--set-gtid-purged=OFF']),
    );
  });

  it('read the position from the dump header', () => {
    const head = `-- Preferably use GTID to start replication from GTID position:\n\n-- SET GLOBAL gtid_slave_pos='0-1-42';\n\n--\n-- Alternately, following is the position of the binary logging from SHOW MASTER STATUS at point of backup.\n-- CHANGE MASTER TO MASTER_LOG_FILE='mariadb-bin.000003', MASTER_LOG_POS=1234;\n`;
    expect(binlogPosition(head)).toBe('mariadb-bin.000003:1234 gtid=0-1-42');
    expect(
      binlogPosition("-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='b.1', SOURCE_LOG_POS=4;"),
    ).toBe('b.1:4');
    expect(binlogPosition('-- MariaDB dump 10.19\n')).toBeUndefined();
  });
});

describe('client errors', () => {
  it.each([
    ["ERROR 2003 (HY000): Can't connect to server on '127.0.0.1' (111)", 2003],
    [
      "mariadb-dump: Got error: 1045: \"Access denied for user 'x'@'localhost' (using password: YES)\" when trying to connect",
      1045,
    ],
    ["mariadb-dump: Couldn't execute 'FLUSH TABLES': Access denied; you need RELOAD (1227)", 1227],
    ['mariadb-dump: Error 2013: Lost connection to server during query', 2013],
    ['something else entirely', undefined],
  ])('finds the error number in %s', (text, number) => {
    expect(mariadbErrorNumber(text)).toBe(number);
  });

  it.each([
    ["ERROR 2002 (HY000): Can't connect to local server through socket", 'UNREACHABLE', true],
    ["ERROR 1045 (28000): Access denied for user 'a'@'h'", 'AUTH_FAILED', false],
    [
      "ERROR 1044 (42000): Access denied for user 'a'@'h' to database 'd'",
      'PERMISSION_DENIED',
      false,
    ],
    ["ERROR 1049 (42000): Unknown database 'd'", 'NOT_FOUND', false],
    ['ERROR 1064 (42000): You have an error in your SQL syntax', 'TOOL_FAILED', false],
  ])('maps %s to %s', (stderr, code, retryable) => {
    const error = mariadbToolError('mariadb', { code: 1, signal: null, stderr }, 'u@h:1/d');
    expect(error.code).toBe(`SHIP_DATASTORE_${code}`);
    expect(error.retryable).toBe(retryable);
    expect(error.exitCode).toBe(3);
    expect(error.message).toContain('MariaDB at u@h:1/d');
  });
});

describe('programs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipshape-mariadb-tools-'));
    await mkdir(join(dir, 'bin'));
    await writeFile(
      join(dir, 'bin', 'mysqldump'),
      '#!/bin/sh\necho "mysqldump  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)"\n',
      { mode: 0o755 },
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses the versions MariaDB and MySQL print', () => {
    expect(
      parseMariadbVersion('mariadb-dump  Ver 10.19 Distrib 10.11.6-MariaDB, for debian-linux-gnu'),
    ).toBe('10.11.6-MariaDB');
    expect(parseMariadbVersion('mariadb-dump from 11.4.2-MariaDB, client 10.19')).toBe(
      '11.4.2-MariaDB',
    );
    expect(parseMariadbVersion('mysqldump  Ver 8.0.36 for Linux on x86_64')).toBe('8.0.36');
  });

  it('falls back to mysqldump and tells MySQL from MariaDB', async () => {
    const tool = await findMariadbTool(['mariadb-dump', 'mysqldump'], {
      SHIPSHAPE_MARIADB_BIN: join(dir, 'bin'),
    });
    expect(tool).toMatchObject({ name: 'mysqldump', version: '8.0.36', mariadb: false });
  });

  it('names the Debian package when nothing is found', async () => {
    const error = (await findMariadbTool(['mariadb-dump', 'mysqldump'], {
      SHIPSHAPE_MARIADB_BIN: join(dir, 'nothing'),
    }).catch((e: unknown) => e)) as ShipError;
    expect(error.code).toBe('SHIP_DATASTORE_TOOL_MISSING');
    expect(error.hint).toContain('apt-get install mariadb-client');
    expect(error.message).toContain('SHIPSHAPE_MARIADB_BIN');
  });

  it('quotes identifiers', () => {
    expect(quoteIdent('a`b')).toBe('`a``b`');
  });
});
