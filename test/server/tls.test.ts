import { execFile } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, createServerLogger, startServer } from '../../src/server/index.js';
import { runCli } from '../helpers/cli.js';
import { createFixture, type Fixture } from './fixture.js';
import { get, spawnServe } from './http-client.js';

const run = promisify(execFile);

/** A self-signed certificate for 127.0.0.1 and localhost, made with openssl for this test. */
async function selfSigned(
  dir: string,
): Promise<{ cert: string; key: string; certPath: string; keyPath: string }> {
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return {
    cert: await readFile(certPath, 'utf8'),
    key: await readFile(keyPath, 'utf8'),
    certPath,
    keyPath,
  };
}

describe('TLS', () => {
  let f: Fixture;
  let tls: Awaited<ReturnType<typeof selfSigned>>;

  beforeAll(async () => {
    f = await createFixture();
    tls = await selfSigned(f.dir);
  });
  afterAll(async () => {
    await f.close();
  });

  it('serves HTTPS with the given certificate and key', async () => {
    const lifecycle = { draining: false };
    const logger = createServerLogger({ level: 'silent' });
    const app = createApp({ workspace: f.workspace, logger, lifecycle });
    const server = await startServer({
      app,
      lifecycle,
      logger,
      port: 0,
      tls: { cert: tls.cert, key: tls.key },
    });
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const token = await f.token('ci');
      const answer = await get(`${server.url}/v1/whoami`, {
        ca: tls.cert,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ actor: { person: 'ci' } });
      // A client that does not trust the certificate is refused by TLS itself.
      await expect(get(`${server.url}/healthz`)).rejects.toThrow(/self.signed|certificate/i);
      // Plain HTTP on the TLS port gets no HTTP answer.
      await expect(get(`${server.url.replace('https:', 'http:')}/healthz`)).rejects.toThrow();
    } finally {
      await server.shutdown();
    }
  });

  it('`shipshape serve --tls-cert --tls-key` listens on https and stops on SIGTERM', async () => {
    const serve = spawnServe(['--tls-cert', tls.certPath, '--tls-key', tls.keyPath], {
      cwd: f.dir,
    });
    try {
      const listening = await serve.listening;
      expect(listening).toMatchObject({ tls: true, host: '127.0.0.1' });
      expect(listening.url).toMatch(/^https:/);
      const answer = await get(`${listening.url}/healthz`, { ca: tls.cert });
      expect(answer.status).toBe(200);
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toEqual({ code: 0, signal: null });
    } finally {
      serve.child.kill('SIGKILL');
    }
  });

  it('refuses unusable TLS flags with exit 2', async () => {
    const onlyCert = await runCli(['serve', '--tls-cert', tls.certPath, '--json'], { cwd: f.dir });
    expect(onlyCert.code).toBe(2);
    expect(onlyCert.stdout).toContain('--tls-cert and --tls-key go together');

    const missing = await runCli(
      ['serve', '--tls-cert', join(f.dir, 'nope.pem'), '--tls-key', tls.keyPath],
      { cwd: f.dir, env: { SHIPSHAPE_DATABASE_URL: '' } },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('SHIP_SERVER_TLS');

    const garbage = join(f.dir, 'garbage.pem');
    await writeFile(garbage, 'not a certificate\n');
    const bad = await runCli(
      ['serve', '--tls-cert', garbage, '--tls-key', tls.keyPath, '--port', '0'],
      {
        cwd: f.dir,
        env: { SHIPSHAPE_DATABASE_URL: '' },
      },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('SHIP_SERVER_TLS');
    await rm(garbage);
  });
});
