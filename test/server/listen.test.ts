import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, createServerLogger, startServer } from '../../src/server/index.js';
import { runCli } from '../helpers/cli.js';
import { createFixture, writeWorkspace, type Fixture } from './fixture.js';

describe('starting the server', () => {
  let f: Fixture;

  beforeAll(async () => {
    f = await createFixture();
  });
  afterAll(async () => {
    await f.close();
  });

  it('fails with SHIP_SERVER_LISTEN (exit 3) when the port is taken', async () => {
    const lifecycle = { draining: false };
    const logger = createServerLogger({ level: 'silent' });
    const app = createApp({ workspace: f.workspace, logger, lifecycle });
    const first = await startServer({ app, lifecycle, logger, port: 0 });
    try {
      await expect(
        startServer({ app, lifecycle: { draining: false }, logger, port: first.port }),
      ).rejects.toMatchObject({
        code: 'SHIP_SERVER_LISTEN',
        exitCode: 3,
        message: expect.stringContaining('already in use') as unknown,
      });
    } finally {
      await first.shutdown();
    }
  });

  it('refuses a bad --port with exit 2', async () => {
    const run = await runCli(['serve', '--port', '99999'], { cwd: f.dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--port must be 0–65535');
  });

  it('exits 3 at start when the state store cannot be opened', async () => {
    const dir = await writeWorkspace();
    await mkdir(join(dir, '.shipshape', 'state.db'), { recursive: true });
    const run = await runCli(['serve', '--port', '0', '--json'], {
      cwd: dir,
      env: { SHIPSHAPE_DATABASE_URL: '' },
    });
    expect(run.code).toBe(3);
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: false,
      error: { code: 'SHIP_STORE_UNREACHABLE' },
    });
  });
});
