import { cp, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startServe, type RunningServer } from '../helpers/serve.js';

/**
 * A CI job in remote mode: a checkout with the spec but no state store and no keys, a token in
 * SHIPSHAPE_TOKEN, and `shipshape serve` holding the ledger. Same commands, same output shapes,
 * same exit codes as local mode; the server records the token's person as the actor.
 */
describe('remote mode through shipshape serve', () => {
  let root: string;
  let server: RunningServer;
  let token: string;
  const local = { SHIPSHAPE_DATABASE_URL: '', SHIPSHAPE_SERVER: '', SHIPSHAPE_TOKEN: '' };
  let ci: Record<string, string>;
  let checkout: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-remote-'));
    const ws = join(root, 'server-ws');
    expect((await runCli(['demo', '--dir', ws], { cwd: root, env: local })).code).toBe(0);
    const minted = await runCli(['users', 'token', 'operator', '--json'], { cwd: ws, env: local });
    expect(minted.code, minted.stderr).toBe(0);
    token = (JSON.parse(minted.stdout) as { token: string }).token;
    server = await startServe([], { cwd: ws, env: local });
    ci = { ...local, SHIPSHAPE_SERVER: server.url, SHIPSHAPE_TOKEN: token };
    // The CI checkout: the repository's files, without .shipshape/ (no store, no private keys).
    checkout = join(root, 'checkout');
    await mkdir(checkout);
    for (const entry of ['shipshape.yaml', 'ledger.pub.pem', 'service', 'infra']) {
      await cp(join(ws, entry), join(checkout, entry), { recursive: true });
    }
  });

  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    await rm(root, { recursive: true, force: true });
  });

  it('records a spec check on the server as the token’s person', async () => {
    const run = await runCli(['spec', 'check', '--record', '--json'], { cwd: checkout, env: ci });
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const result = JSON.parse(run.stdout) as { ok: boolean; recorded: { seq: number } };
    // #1 is the demo's spec check, #2 its backup, #3 its drill, #4 the token-minted event.
    expect(result.recorded.seq).toBe(5);
    const shown = await runCli(['ledger', 'show', '5', '--json'], { cwd: checkout, env: ci });
    expect(JSON.parse(shown.stdout)).toMatchObject({
      kind: 'gate-result',
      actor: { kind: 'token', person: 'operator' },
      body: { gate: 'validate', outcome: 'passed' },
    });
  });

  it('appends, lists and verifies through the server with the same shapes as local mode', async () => {
    const append = await runCli(
      [
        'ledger',
        'append',
        '--event',
        'note',
        '--subject',
        'orders-demo',
        '--details',
        '{"text":"from CI"}',
        '--json',
      ],
      { cwd: checkout, env: ci },
    );
    expect(append.code, append.stderr + append.stdout).toBe(0);
    expect(JSON.parse(append.stdout)).toMatchObject({
      seq: 6,
      kind: 'event',
      actor: { person: 'operator' },
    });

    const list = await runCli(['ledger', 'list', '--json'], { cwd: checkout, env: ci });
    expect(
      (JSON.parse(list.stdout) as { records: { seq: number }[] }).records.map((r) => r.seq),
    ).toEqual([6, 5, 4, 3, 2, 1]);

    const verify = await runCli(['ledger', 'verify', '--json'], { cwd: checkout, env: ci });
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, records: 6, signedThrough: 6 });

    // The server's own view agrees, and an export fetched remotely verifies offline.
    const onServer = await runCli(['ledger', 'verify', '--json'], {
      cwd: join(root, 'server-ws'),
      env: local,
    });
    expect(JSON.parse(onServer.stdout)).toMatchObject({ ok: true, records: 6 });
    const file = join(root, 'remote-export.jsonl');
    expect(
      (await runCli(['ledger', 'export', '--out', file], { cwd: checkout, env: ci })).code,
    ).toBe(0);
    const offline = await runCli(
      [
        'ledger',
        'verify',
        '--file',
        file,
        '--public-key',
        join(checkout, 'ledger.pub.pem'),
        '--json',
      ],
      { cwd: checkout, env: local },
    );
    expect(offline.code, offline.stdout).toBe(0);

    // The checkout never grew a state store.
    expect(await readdir(checkout)).not.toContain('.shipshape');
  });

  it('maps server errors to the same codes and exit codes', async () => {
    const missing = await runCli(['ledger', 'show', '999', '--json'], { cwd: checkout, env: ci });
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'SHIP_LEDGER_NOT_FOUND' } });

    const badToken = await runCli(['ledger', 'list'], {
      cwd: checkout,
      env: { ...ci, SHIPSHAPE_TOKEN: 'ssp_000000000000_nottherealsecretnottherealsecret' },
    });
    expect(badToken.code).toBe(19);
    expect(badToken.stderr).toContain('SHIP_AUTH_UNAUTHENTICATED');

    const noToken = await runCli(['ledger', 'list'], {
      cwd: checkout,
      env: { ...ci, SHIPSHAPE_TOKEN: '' },
    });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('SHIP_REMOTE_NO_TOKEN');

    const unreachable = await runCli(['ledger', 'list', '--server', 'http://127.0.0.1:9'], {
      cwd: checkout,
      env: ci,
    });
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('SHIP_REMOTE_UNREACHABLE');
  });

  it('manages tokens remotely as an admin, and never logs a token', async () => {
    const minted = await runCli(['users', 'token', 'operator', '--roles', 'deployer', '--json'], {
      cwd: checkout,
      env: ci,
    });
    expect(minted.code, minted.stderr).toBe(0);
    const second = JSON.parse(minted.stdout) as { token: string; info: { id: string } };
    const listed = await runCli(['users', 'tokens', '--json'], { cwd: checkout, env: ci });
    expect(listed.stdout).toContain(second.info.id);
    expect(listed.stdout).not.toContain(second.token);
    expect(
      (await runCli(['users', 'revoke', second.info.id], { cwd: checkout, env: ci })).code,
    ).toBe(0);
    const revoked = await runCli(['ledger', 'list'], {
      cwd: checkout,
      env: { ...ci, SHIPSHAPE_TOKEN: second.token },
    });
    expect(revoked.code).toBe(19);
    for (const line of server.output) {
      expect(line).not.toContain(token);
      expect(line).not.toContain(second.token);
    }
  });
});
