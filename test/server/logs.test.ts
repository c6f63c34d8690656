import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerSecret } from '../../src/core/index.js';
import { createApp, createServerLogger } from '../../src/server/index.js';
import { createFixture, type Fixture } from './fixture.js';

/**
 * The secret canary, for server logs: a registered secret that requests make the server echo
 * (in a path, an error message, a request id, a failing dependency) never reaches a log line
 * or an error answer; neither does a bearer token.
 */
const CANARY = `canary${randomBytes(12).toString('hex')}`;

describe('server logs', () => {
  let f: Fixture;
  let token: string;
  const answers: string[] = [];

  beforeAll(async () => {
    registerSecret(CANARY);
    f = await createFixture();
    token = await f.token('ci');
  });
  afterAll(async () => {
    await f.close();
  });

  async function call(path: string, init: Parameters<Fixture['request']>[1] = {}) {
    const res = await f.request(path, init);
    answers.push(await res.clone().text());
    return res;
  }

  it('writes one line per request with id, method, route, status, duration and actor', async () => {
    const res = await call('/v1/whoami', { token, headers: { 'x-request-id': 'req-1' } });
    expect(res.status).toBe(200);
    const line = f.logs.find((l) => l.reqId === 'req-1');
    expect(line).toMatchObject({
      level: 'info',
      msg: 'request',
      method: 'GET',
      route: '/v1/whoami',
      path: '/v1/whoami',
      status: 200,
      actor: { kind: 'token', person: 'ci', roles: ['deployer'] },
    });
    expect(typeof line?.durationMs).toBe('number');
    expect(typeof line?.time).toBe('string');
  });

  it('redacts a secret the request makes the server echo', async () => {
    const missing = await call(`/v1/ledger/records/${CANARY}`, { token });
    expect(missing.status).toBe(404);
    const body = (await missing.json()) as { error: { message: string } };
    expect(body.error.message).toContain('[REDACTED]');

    await call('/v1/whoami', { token, headers: { 'x-request-id': CANARY } });
    await call(`/v1/ledger/records?subject=${CANARY}&gate=${CANARY}`, { token });
    const appended = await call('/v1/ledger/records', {
      method: 'POST',
      token,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'event',
        subject: `service:${CANARY}`,
        body: { type: 'note', details: { password: CANARY } },
      }),
    });
    expect(appended.status).toBe(201);
    // A token in the wrong place (the path) is caught by the token pattern.
    await call(`/nothing/Bearer ${token}`);
  });

  it('answers SHIP_INTERNAL without internals, and logs the redacted cause', async () => {
    const lines: string[] = [];
    const app = createApp({
      workspace: f.workspace,
      logger: createServerLogger({ destination: { write: (line) => lines.push(line) } }),
      tokens: () =>
        Promise.reject(new Error(`connect failed: postgres://shipshape:${CANARY}@db:5432/state`)),
    });
    const res = await app.request('/v1/whoami', {
      headers: { authorization: `Bearer ${token}`, 'x-request-id': 'boom-1' },
    });
    expect(res.status).toBe(500);
    const text = await res.text();
    answers.push(text);
    const { error } = JSON.parse(text) as { error: Record<string, unknown> };
    expect(error).toEqual({
      code: 'SHIP_INTERNAL',
      message: 'Internal server error (request boom-1); the server log has the details.',
      exitCode: 3,
      retryable: false,
    });
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const failure = logged.find((l) => l.level === 'error');
    expect(failure).toMatchObject({ reqId: 'boom-1', err: { type: 'Error' } });
    expect(JSON.stringify(failure)).toContain('postgres://shipshape:[REDACTED]@db:5432/state');
    f.rawLogs.push(...lines);
  });

  it('never wrote the secret or a token to a log line or an answer', () => {
    expect(f.rawLogs.length).toBeGreaterThanOrEqual(8);
    for (const line of f.rawLogs) {
      expect(line).not.toContain(CANARY);
      expect(line).not.toContain(token);
      expect(line.toLowerCase()).not.toContain('authorization');
    }
    for (const answer of answers) expect(answer).not.toContain(CANARY);
  });
});
