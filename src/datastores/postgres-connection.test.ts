import { describe, expect, it } from 'vitest';

import { redact } from '../core/index.js';

import { parsePgConnection } from './postgres-connection.js';

describe('parsePgConnection', () => {
  it('splits a URL into a password and a URL without it', () => {
    const conn = parsePgConnection(
      'postgres://backup:s3cr%40t-pw@db.example:6432/orders?sslmode=require',
    );
    expect(conn.password).toBe('s3cr@t-pw');
    expect(conn.urlWithoutPassword).toBe(
      'postgres://backup@db.example:6432/orders?sslmode=require',
    );
    expect(conn.url).toContain('s3cr%40t-pw');
    expect(conn.location).toBe('backup@db.example:6432/orders');
    expect(conn.database).toBe('orders');
    // Registered with the redactor: it never reaches output, even as free text.
    expect(redact('pg_dump said s3cr@t-pw')).not.toContain('s3cr@t-pw');
  });

  it('takes a password given as a query parameter out of the URL', () => {
    const conn = parsePgConnection(
      'postgresql://u@h/db?password=query-secret-1&application_name=x',
    );
    expect(conn.password).toBe('query-secret-1');
    expect(conn.urlWithoutPassword).not.toContain('query-secret-1');
  });

  it('converts libpq key=value strings', () => {
    const conn = parsePgConnection(
      "host=db.internal port=5433 dbname=orders user=backup password='a b\\'c' sslmode=verify-full",
    );
    expect(conn.password).toBe("a b'c");
    expect(conn.location).toBe('backup@db.internal:5433/orders');
    expect(conn.urlWithoutPassword).toBe(
      'postgres://backup@db.internal:5433/orders?sslmode=verify-full',
    );
  });

  it('rejects what it cannot read with a usage error', () => {
    expect(() => parsePgConnection('   ')).toThrow(
      expect.objectContaining({ code: 'SHIP_DATASTORE_BAD_CONNECTION', exitCode: 2 }),
    );
  });
});
