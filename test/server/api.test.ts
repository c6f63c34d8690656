import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LedgerRecordSchema, verifyExportFile, type LedgerRecord } from '../../src/ledger/index.js';
import { ErrorResponseSchema, type ErrorResponse } from '../../src/server/index.js';
import { createFixture, gateResult, type Fixture } from './fixture.js';

/** The API, called in-process with `app.request` (no socket), on SQLite. */
describe('HTTP API', () => {
  let f: Fixture;
  let admin: string;
  let ci: string;
  let auditor: string;

  beforeAll(async () => {
    f = await createFixture();
    admin = await f.token('alice');
    ci = await f.token('ci');
    auditor = await f.token('auditor');
  });
  afterAll(async () => {
    await f.close();
  });

  async function error(response: Response): Promise<ErrorResponse['error']> {
    const body = ErrorResponseSchema.parse(await response.json());
    return body.error;
  }

  function post(path: string, token: string | undefined, body: unknown, headers = {}) {
    return f.request(path, {
      method: 'POST',
      ...(token === undefined ? {} : { token }),
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  describe('authentication', () => {
    it('answers 401 without a token, with WWW-Authenticate', async () => {
      const res = await f.request('/v1/ledger/records');
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const e = await error(res);
      expect(e.code).toBe('SHIP_AUTH_UNAUTHENTICATED');
      expect(e.exitCode).toBe(19);
    });

    it.each([
      ['a malformed token', 'not-a-token'],
      ['an unknown token', `ssp_0123456789ab_${'A'.repeat(43)}`],
      ['another scheme', 'Basic YWxpY2U6cHc='],
    ])('answers 401 with %s', async (_what, value) => {
      const res = await f.request('/v1/whoami', {
        headers: { authorization: value.startsWith('Basic') ? value : `Bearer ${value}` },
      });
      expect(res.status).toBe(401);
      expect((await error(res)).code).toBe('SHIP_AUTH_UNAUTHENTICATED');
    });

    it('answers 401 for a revoked token, with the same message', async () => {
      const token = await f.token('ci');
      expect((await f.request('/v1/whoami', { token })).status).toBe(200);
      const id = /^ssp_([0-9a-f]{12})_/.exec(token)![1]!;
      const revoked = await f.request(`/v1/tokens/${id}`, { method: 'DELETE', token: admin });
      expect(revoked.status).toBe(200);
      const res = await f.request('/v1/whoami', { token });
      expect(res.status).toBe(401);
      expect((await error(res)).message).toBe(
        'Authentication failed: the token is missing, invalid, expired or revoked.',
      );
      // The reason is in the log, not in the answer.
      expect(f.logs.some((l) => l.authFailure === 'revoked')).toBe(true);
    });

    it('checks the token before the input, so an anonymous caller learns nothing', async () => {
      const res = await post('/v1/ledger/records', undefined, { nonsense: true });
      expect(res.status).toBe(401);
    });

    it('tells the caller who they are', async () => {
      const res = await f.request('/v1/whoami', { token: ci });
      expect(res.status).toBe(200);
      const { actor } = (await res.json()) as { actor: Record<string, unknown> };
      expect(actor).toMatchObject({ kind: 'token', person: 'ci', roles: ['deployer'] });
      expect(actor.tokenId).toMatch(/^[0-9a-f]{12}$/);
    });
  });

  describe('authorisation', () => {
    it('answers 403 when a custom-role-only person appends', async () => {
      const res = await post('/v1/ledger/records', auditor, {
        kind: 'event',
        subject: 'service:shop',
        body: { type: 'note' },
      });
      expect(res.status).toBe(403);
      const e = await error(res);
      expect(e.code).toBe('SHIP_AUTH_FORBIDDEN');
      expect(e.exitCode).toBe(19);
      expect(e.message).toContain('evidence.append');
    });

    it('lets a custom-role-only person read', async () => {
      expect((await f.request('/v1/ledger/count', { token: auditor })).status).toBe(200);
    });

    it.each([
      ['GET', '/v1/tokens', undefined],
      ['POST', '/v1/tokens', { person: 'ci' }],
      ['DELETE', '/v1/tokens/0123456789ab', undefined],
    ] as const)('answers 403 to a non-admin on %s %s', async (method, path, body) => {
      const res = await f.request(path, {
        method,
        token: ci,
        ...(body === undefined
          ? {}
          : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
      expect(res.status).toBe(403);
      expect((await error(res)).code).toBe('SHIP_AUTH_FORBIDDEN');
    });
  });

  describe('appending evidence', () => {
    it('records the token’s person as the actor (201)', async () => {
      const res = await post('/v1/ledger/records', ci, {
        kind: 'gate-result',
        subject: 'service:shop',
        body: gateResult('validate', 'passed'),
      });
      expect(res.status).toBe(201);
      const record = LedgerRecordSchema.parse(await res.json());
      expect(record.actor).toMatchObject({ kind: 'token', person: 'ci', roles: ['deployer'] });
      const stored = await (await f.workspace.ledger()).get(record.seq);
      expect(stored.actor).toEqual(record.actor);
    });

    it('refuses a body that names its own actor (400), and records nothing', async () => {
      const before = await (await f.workspace.ledger()).count();
      const res = await post('/v1/ledger/records', ci, {
        kind: 'event',
        subject: 'service:shop',
        actor: { kind: 'token', tokenId: 'forged', person: 'alice', roles: ['admin'] },
        body: { type: 'note' },
      });
      expect(res.status).toBe(400);
      const e = await error(res);
      expect(e.code).toBe('SHIP_HTTP_BAD_BODY');
      expect(e.problems?.[0]?.message).toContain('`actor` is not accepted');
      expect(await (await f.workspace.ledger()).count()).toBe(before);
    });

    it('ignores headers that try to name another identity', async () => {
      const res = await post(
        '/v1/ledger/records',
        ci,
        { kind: 'event', subject: 'service:shop', body: { type: 'note' } },
        { 'x-shipshape-actor': 'alice', 'x-forwarded-user': 'alice' },
      );
      expect(res.status).toBe(201);
      expect(((await res.json()) as LedgerRecord).actor.person).toBe('ci');
    });

    it.each([
      ['not JSON', '{"kind":', 'SHIP_HTTP_BAD_JSON'],
      ['an unknown kind', { kind: 'rumour', subject: 's', body: {} }, 'SHIP_HTTP_BAD_BODY'],
      ['no subject', { kind: 'event', body: { type: 'note' } }, 'SHIP_HTTP_BAD_BODY'],
      [
        'an unknown gate',
        { kind: 'gate-result', subject: 's', body: gateResult('vibes', 'passed') },
        'SHIP_HTTP_BAD_BODY',
      ],
      [
        'finishedAt before startedAt',
        {
          kind: 'gate-result',
          subject: 's',
          body: { ...gateResult('audit', 'passed'), startedAt: '2030-01-01T00:00:00Z' },
        },
        'SHIP_HTTP_BAD_BODY',
      ],
      ['an array', [], 'SHIP_HTTP_BAD_BODY'],
    ])('answers 400 to %s, listing the problems', async (_what, body, code) => {
      const res = await post('/v1/ledger/records', ci, body);
      expect(res.status).toBe(400);
      const e = await error(res);
      expect(e.code).toBe(code);
      expect(e.exitCode).toBe(2);
      if (code === 'SHIP_HTTP_BAD_BODY') expect(e.problems?.length).toBeGreaterThan(0);
    });

    it('answers 415 to a body that is not JSON', async () => {
      const res = await post('/v1/ledger/records', ci, 'kind=event', {
        'content-type': 'application/x-www-form-urlencoded',
      });
      expect(res.status).toBe(415);
      expect((await error(res)).code).toBe('SHIP_HTTP_UNSUPPORTED_MEDIA_TYPE');
    });

    it('answers 413 to a body over the limit', async () => {
      const res = await post('/v1/ledger/records', ci, {
        kind: 'event',
        subject: 'service:shop',
        body: { type: 'note', details: { blob: 'x'.repeat(1024 * 1024) } },
      });
      expect(res.status).toBe(413);
      expect((await error(res)).code).toBe('SHIP_HTTP_BODY_TOO_LARGE');
    });
  });

  describe('reading the ledger', () => {
    it('lists, filters and pages records', async () => {
      const all = await f.request('/v1/ledger/records?order=desc&limit=2', { token: auditor });
      expect(all.status).toBe(200);
      const { records } = (await all.json()) as { records: LedgerRecord[] };
      expect(records).toHaveLength(2);
      expect(records[0]!.seq).toBeGreaterThan(records[1]!.seq);

      const gates = await f.request('/v1/ledger/records?gate=validate&kind=gate-result', {
        token: auditor,
      });
      const gateRecords = ((await gates.json()) as { records: LedgerRecord[] }).records;
      expect(gateRecords.length).toBeGreaterThan(0);
      expect(gateRecords.every((r) => r.kind === 'gate-result')).toBe(true);

      const after = await f.request(`/v1/ledger/records?afterSeq=${records[1]!.seq}`, {
        token: auditor,
      });
      const afterRecords = ((await after.json()) as { records: LedgerRecord[] }).records;
      expect(afterRecords.map((r) => r.seq)).toEqual([records[0]!.seq]);
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['order=sideways', 'order'],
      ['gate=vibes', 'gate'],
      ['afterSeq=-1', 'afterSeq'],
      ['colour=blue', ''],
    ])('answers 400 to the query %s', async (query, path) => {
      const res = await f.request(`/v1/ledger/records?${query}`, { token: auditor });
      expect(res.status).toBe(400);
      const e = await error(res);
      expect(e.code).toBe('SHIP_HTTP_BAD_QUERY');
      if (path !== '') expect(e.problems?.map((p) => p.path)).toContain(path);
    });

    it('shows one record by seq and by id, and 404 for none', async () => {
      const bySeq = await f.request('/v1/ledger/records/1', { token: auditor });
      expect(bySeq.status).toBe(200);
      const record = (await bySeq.json()) as LedgerRecord;
      const byId = await f.request(`/v1/ledger/records/${record.id}`, { token: auditor });
      expect(((await byId.json()) as LedgerRecord).seq).toBe(1);
      const missing = await f.request('/v1/ledger/records/99999', { token: auditor });
      expect(missing.status).toBe(404);
      expect((await error(missing)).code).toBe('SHIP_LEDGER_NOT_FOUND');
    });

    it('counts records', async () => {
      const res = await f.request('/v1/ledger/count', { token: auditor });
      expect(await res.json()).toEqual({ count: await (await f.workspace.ledger()).count() });
    });

    it('verifies the ledger (200 with the report)', async () => {
      const res = await f.request('/v1/ledger/verify', { token: auditor });
      expect(res.status).toBe(200);
      const report = (await res.json()) as { ok: boolean; records: number; signedThrough: number };
      expect(report.ok).toBe(true);
      expect(report.signedThrough).toBe(report.records);
    });

    it('exports NDJSON that verifies offline', async () => {
      const res = await f.request('/v1/ledger/export', { token: auditor });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-ndjson');
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const text = await res.text();
      const lines = text.trimEnd().split('\n');
      expect(JSON.parse(lines[0]!)).toMatchObject({ format: 'shipshape-ledger-export' });
      const file = join(f.dir, 'export.jsonl');
      await writeFile(file, text);
      const report = await verifyExportFile(file, await f.workspace.publicKey());
      expect(report.ok).toBe(true);
      expect(report.records).toBe(await (await f.workspace.ledger()).count());
    });
  });

  describe('tokens', () => {
    it('mints (201), lists and revokes as an admin, recording events by the caller', async () => {
      const minted = await post('/v1/tokens', admin, {
        person: 'ci',
        roles: ['deployer'],
        expires: '1d',
        description: 'api test',
      });
      expect(minted.status).toBe(201);
      const { token, info } = (await minted.json()) as {
        token: string;
        info: { id: string; createdBy: { person?: string } };
      };
      expect(token).toMatch(/^ssp_/);
      expect(info.createdBy.person).toBe('alice');
      expect((await f.request('/v1/whoami', { token })).status).toBe(200);

      const list = await f.request('/v1/tokens', { token: admin });
      const { tokens } = (await list.json()) as { tokens: { id: string }[] };
      expect(tokens.map((t) => t.id)).toContain(info.id);
      expect(JSON.stringify(tokens)).not.toContain(token);

      const revoked = await f.request(`/v1/tokens/${info.id}`, { method: 'DELETE', token: admin });
      expect(revoked.status).toBe(200);
      expect(((await revoked.json()) as { info: { status: string } }).info.status).toBe('revoked');
      expect((await f.request('/v1/whoami', { token })).status).toBe(401);

      const recent = await (await f.workspace.ledger()).list({ kind: 'event', order: 'desc' });
      const events = recent.filter((r) => r.kind === 'event' && r.body.details.tokenId === info.id);
      expect(events.map((r) => (r.kind === 'event' ? r.body.type : '')).sort()).toEqual([
        'token-minted',
        'token-revoked',
      ]);
      expect(events.every((r) => r.actor.person === 'alice')).toBe(true);
    });

    it('answers 400 to a mint the auth rules refuse, and 404 to an unknown id', async () => {
      const widen = await post('/v1/tokens', admin, { person: 'ci', roles: ['admin'] });
      expect(widen.status).toBe(400);
      expect((await error(widen)).code).toBe('SHIP_AUTH_ROLE_NOT_HELD');
      const nobody = await post('/v1/tokens', admin, { person: 'nobody' });
      expect((await error(nobody)).code).toBe('SHIP_AUTH_NO_ROLES');
      const missing = await f.request('/v1/tokens/0123456789ab', {
        method: 'DELETE',
        token: admin,
      });
      expect(missing.status).toBe(404);
      expect((await error(missing)).code).toBe('SHIP_AUTH_TOKEN_NOT_FOUND');
      const badId = await f.request('/v1/tokens/nope', { method: 'DELETE', token: admin });
      expect(badId.status).toBe(400);
      expect((await error(badId)).code).toBe('SHIP_HTTP_BAD_PATH');
    });
  });

  describe('HTTP conventions', () => {
    it('echoes a sane x-request-id and replaces an unsafe one', async () => {
      const given = await f.request('/healthz', { headers: { 'x-request-id': 'deploy-42.a:b' } });
      expect(given.headers.get('x-request-id')).toBe('deploy-42.a:b');
      const generated = await f.request('/healthz', {
        headers: { 'x-request-id': 'bad id\twith spaces' },
      });
      expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const none = await f.request('/healthz');
      expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const line = f.logs.find((l) => l.reqId === 'deploy-42.a:b');
      expect(line).toMatchObject({ method: 'GET', route: '/healthz', status: 200 });
    });

    it('answers 404 and 405 as errors in the contract’s shape', async () => {
      const missing = await f.request('/v2/nothing');
      expect(missing.status).toBe(404);
      expect((await error(missing)).code).toBe('SHIP_HTTP_NOT_FOUND');
      const wrong = await f.request('/v1/ledger/count', { method: 'DELETE', token: admin });
      expect(wrong.status).toBe(405);
      expect(wrong.headers.get('allow')).toContain('GET');
      expect((await error(wrong)).code).toBe('SHIP_HTTP_METHOD_NOT_ALLOWED');
    });

    it('answers /healthz and /readyz without a token', async () => {
      expect(await (await f.request('/healthz')).json()).toEqual({ ok: true });
      expect(await (await f.request('/readyz')).json()).toEqual({ ok: true });
    });
  });
});
