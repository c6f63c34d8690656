import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import {
  createApp,
  createServerLogger,
  startServer,
  type Lifecycle,
} from '../../src/server/index.js';
import { Workspace } from '../../src/workspace/index.js';
import { createFixture, writeWorkspace, BOOTSTRAP_ADMIN, type Fixture } from './fixture.js';
import { holdRequest, spawnServe, tryConnect } from './http-client.js';

const EVENT = { kind: 'event', subject: 'service:shop', body: { type: 'note', details: {} } };

/**
 * Graceful shutdown, with a latch: a request whose body the test holds back (after the server
 * has answered `100 Continue`) is in flight until the test releases it. No sleeps, no timing.
 */
describe('graceful shutdown (in-process)', () => {
  let f: Fixture;
  let token: string;

  beforeAll(async () => {
    f = await createFixture();
    token = await f.token('ci');
  });
  afterAll(async () => {
    await f.close();
  });

  async function listen() {
    const lifecycle: Lifecycle = { draining: false };
    const logger = createServerLogger({ level: 'silent' });
    const app = createApp({ workspace: f.workspace, logger, lifecycle });
    const server = await startServer({ app, lifecycle, logger, port: 0 });
    return { app, server };
  }

  it('finishes the in-flight request, refuses new connections, reports a graceful stop', async () => {
    const { app, server } = await listen();
    const held = holdRequest(`${server.url}/v1/ledger/records`, { token, body: EVENT });
    await held.continued;
    expect(server.inFlight()).toBe(1);

    const stopped = server.shutdown();
    expect(await tryConnect(server.host, server.port)).toBe('refused');
    // Readiness flips at once, so a load balancer stops sending here.
    expect((await app.request('/readyz')).status).toBe(503);

    held.release();
    const answer = await held.response;
    expect(answer.status).toBe(201);
    expect(answer.headers.connection).toBe('close');
    expect(JSON.parse(answer.body)).toMatchObject({ actor: { person: 'ci' } });
    expect(await stopped).toEqual({ graceful: true, forced: 0 });
    expect(server.inFlight()).toBe(0);
  });

  it('cuts off what is left when forced (the deadline, or a second signal)', async () => {
    const { server } = await listen();
    const held = holdRequest(`${server.url}/v1/ledger/records`, { token, body: EVENT });
    await held.continued;
    const stopped = server.shutdown(60_000);
    server.force();
    expect(await stopped).toEqual({ graceful: false, forced: 1 });
    await expect(held.response).rejects.toThrow(/socket hang up|ECONNRESET/);
  });
});

describe('graceful shutdown of `shipshape serve` on SIGTERM', () => {
  let dir: string;
  let token: string;

  beforeAll(async () => {
    dir = await writeWorkspace();
    const workspace = await Workspace.open({
      cwd: dir,
      env: { ...process.env, SHIPSHAPE_DATABASE_URL: '' },
    });
    try {
      token = (await (await workspace.tokens()).mint({ person: 'ci' }, BOOTSTRAP_ADMIN)).token;
    } finally {
      await workspace.close();
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('completes the in-flight request with 201, refuses new connections, exits 0', async () => {
    const serve = spawnServe([], { cwd: dir });
    try {
      const { url, host, port } = await serve.listening;
      expect(url).toBe(`http://127.0.0.1:${port}`);

      const held = holdRequest(`${url}/v1/ledger/records`, { token, body: EVENT });
      await held.continued;

      serve.child.kill('SIGTERM');
      await serve.waitForLog((line) => String(line.msg).startsWith('shutting down'));
      expect(await tryConnect(host, port)).toBe('refused');

      held.release();
      const answer = await held.response;
      expect(answer.status).toBe(201);

      expect(await serve.exited).toEqual({ code: 0, signal: null });
      expect(serve.logs.find((l) => l.msg === 'stopped')).toMatchObject({
        graceful: true,
        forced: 0,
      });
      const request = serve.logs.find((l) => l.msg === 'request' && l.status === 201);
      expect(request).toMatchObject({ route: '/v1/ledger/records', actor: { person: 'ci' } });
    } finally {
      serve.child.kill('SIGKILL');
    }

    // The record is in the store the server closed.
    const workspace = await Workspace.open({
      cwd: dir,
      env: { ...process.env, SHIPSHAPE_DATABASE_URL: '' },
    });
    try {
      const [last] = await (await workspace.ledger()).list({ order: 'desc', limit: 1 });
      expect(last).toMatchObject({ subject: 'service:shop', actor: { person: 'ci' } });
      expect((await (await workspace.ledger()).verify()).ok).toBe(true);
    } finally {
      await workspace.close();
    }
  });
});
