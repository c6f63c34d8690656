import { describe, expect, it } from 'vitest';
import { REDACTED, Redactor } from './redact.js';

describe('Redactor', () => {
  it('removes registered secrets and their URL-encoded form', () => {
    const r = new Redactor();
    r.add('s3cr3t/p@ss');
    expect(r.redact('pw is s3cr3t/p@ss and s3cr3t%2Fp%40ss')).toBe(
      `pw is ${REDACTED} and ${REDACTED}`,
    );
  });

  it('prefers the longest secret when secrets overlap', () => {
    const r = new Redactor();
    r.add('abcd');
    r.add('abcdefgh');
    expect(r.redact('xabcdefghx')).toBe(`x${REDACTED}x`);
  });

  it('ignores secrets too short to match safely', () => {
    const r = new Redactor();
    r.add('ab');
    expect(r.redact('about')).toBe('about');
  });

  it.each([
    [
      'pg_dump: error: connection to server at "db" failed: postgres://backup:hunter22@db:5432/app',
      `postgres://backup:${REDACTED}@db:5432/app`,
    ],
    ['host=db user=app password=hunter22 dbname=x', `password=${REDACTED} dbname=x`],
    ["password='hunter 22' sslmode=require", `password=${REDACTED} sslmode`],
    ['Authorization: Bearer abcdefghijklmnop', `Bearer ${REDACTED}`],
    ['redis://:hunter22@127.0.0.1:6379/0', `redis://:${REDACTED}@127.0.0.1`],
  ])('redacts credential-shaped text: %s', (input, fragment) => {
    const out = new Redactor().redact(input);
    expect(out).toContain(fragment);
    expect(out).not.toContain('hunter');
  });

  it('keeps secret references and redacted values, which are safe to show', () => {
    const r = new Redactor();
    for (const text of [
      'postgres://app:${env:ORDERS_PASSWORD}@db/orders',
      'host=db password=${file:.secrets/pw}',
      `postgres://app:${REDACTED}@db/orders`,
      'token: ${env:API_TOKEN}',
    ]) {
      expect(r.redact(text)).toBe(text);
    }
  });

  it('redacts Shipshape API tokens but keeps their public id', () => {
    const token = 'ssp_0123456789ab_' + 'Zm9v-YmFy_'.repeat(4) + 'abc';
    const r = new Redactor();
    expect(r.redact(`use ${token} in CI`)).toBe(`use ssp_0123456789ab_${REDACTED} in CI`);
    expect(r.redact(`Authorization: Bearer ${token}`)).not.toContain('Zm9v');
    expect(r.redactDeep({ t: token })).toEqual({ t: `ssp_0123456789ab_${REDACTED}` });
    // Not a token: no 12-hex id, or part of a longer word.
    expect(r.redact('ssp_config_file and xssp_0123456789ab_abcdefghijklmnopq')).toBe(
      'ssp_config_file and xssp_0123456789ab_abcdefghijklmnopq',
    );
  });

  it('redacts PEM private keys', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIGx\n-----END PRIVATE KEY-----';
    expect(new Redactor().redact(`key: ${pem}`)).toBe(`key: ${REDACTED}`);
  });

  it('keeps URLs without credentials intact', () => {
    const text = 'https://example.com/a:b@c is fine, postgres://backup@db/app too';
    expect(new Redactor().redact('postgres://backup@db/app')).toBe('postgres://backup@db/app');
    expect(text).toContain('postgres://backup@db/app');
  });

  it('redacts deeply, keys included, without touching the input', () => {
    const r = new Redactor();
    r.add('topsecret');
    const input = { a: ['x topsecret'], topsecret: 1, n: 5, nested: { b: null } };
    expect(r.redactDeep(input)).toEqual({
      a: [`x ${REDACTED}`],
      [REDACTED]: 1,
      n: 5,
      nested: { b: null },
    });
    expect(input.a[0]).toBe('x topsecret');
  });

  it('copies an object reached twice, and cuts only a true cycle', () => {
    const r = new Redactor();
    const shared = { id: 'abc' };
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    expect(r.redactDeep({ plan: { snapshot: shared }, result: { snapshot: shared } })).toEqual({
      plan: { snapshot: { id: 'abc' } },
      result: { snapshot: { id: 'abc' } },
    });
    expect(r.redactDeep(cyclic)).toEqual({ name: 'loop', self: '[Circular]' });
  });
});
