import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, createServerLogger, type ShipshapeApp } from '../../src/server/index.js';
import { Workspace } from '../../src/workspace/index.js';
import { parseExposition, samplesOf } from './exposition.js';
import { writeWorkspace } from './fixture.js';
import { rm } from 'node:fs/promises';

/** The SQLite state store cannot be opened: its path is a directory. */
describe('readiness with the store unreachable', () => {
  let dir: string;
  let workspace: Workspace;
  let app: ShipshapeApp;

  beforeAll(async () => {
    dir = await writeWorkspace();
    await mkdir(join(dir, '.shipshape', 'state.db'), { recursive: true });
    workspace = await Workspace.open({
      cwd: dir,
      env: { ...process.env, SHIPSHAPE_DATABASE_URL: '' },
    });
    app = createApp({
      workspace,
      logger: createServerLogger({ level: 'silent' }),
      validateResponses: true,
    });
  });
  afterAll(async () => {
    await workspace.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stays alive: /healthz answers 200', async () => {
    expect((await app.request('/healthz')).status).toBe(200);
  });

  it('answers /readyz with 503 and says why', async () => {
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const body = (await res.json()) as {
      ok: boolean;
      error: { code: string; message: string; retryable: boolean };
    };
    expect(body.ok).toBe(false);
    expect(body.error.code).toBe('SHIP_SERVER_NOT_READY');
    expect(body.error.message).toContain('state store');
    expect(body.error.retryable).toBe(true);
  });

  it('answers API calls with 503 SHIP_STORE_UNREACHABLE', async () => {
    const res = await app.request('/v1/whoami', {
      headers: { authorization: `Bearer ssp_0123456789ab_${'A'.repeat(43)}` },
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
      'SHIP_STORE_UNREACHABLE',
    );
  });

  it('still serves /metrics, with shipshape_ledger_up 0', async () => {
    const res = await app.request('/metrics');
    expect(res.status).toBe(200);
    const m = parseExposition(await res.text());
    expect(samplesOf(m, 'shipshape_ledger_up')[0]?.value).toBe(0);
  });
});
