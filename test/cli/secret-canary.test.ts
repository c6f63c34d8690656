import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { startServe } from '../helpers/serve.js';

/**
 * One unique secret goes into the environment, a `${file:…}` reference and connection URLs
 * (by reference and, in a broken spec, literally). No byte Shipshape writes — stdout, stderr,
 * the state store, the witness log, exports — may contain it.
 */
const CANARY = `canary${randomBytes(12).toString('hex')}`;

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('secret canary', () => {
  let root: string;
  let demo: string;
  const runs: CliRun[] = [];
  const env = { CANARY_SECRET: CANARY, SHIPSHAPE_DATABASE_URL: '' };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-canary-'));
    demo = join(root, 'demo');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function run(args: string[], cwd = demo): Promise<CliRun> {
    const result = await runCli(args, { cwd, env });
    runs.push(result);
    return result;
  }

  it('runs the demo and spec commands with the secret referenced', async () => {
    expect((await run(['demo', '--dir', demo], root)).code).toBe(0);
    await writeFile(join(root, 'secret.txt'), `${CANARY}\n`);
    const specFile = join(demo, 'shipshape.yaml');
    const spec = (await readFile(specFile, 'utf8'))
      .replace('${file:.shipshape/keys/repository.key}', '${file:../secret.txt}')
      .replace(
        'datastores:\n',
        'datastores:\n  orders-pg:\n    kind: postgres\n    connection:\n' +
          '      production: postgres://backup:${env:CANARY_SECRET}@127.0.0.1:1/orders\n' +
          '    repository: local\n',
      );
    await writeFile(specFile, spec);
    const check = await run(['spec', 'check', '--record', '--json']);
    expect(check.code, check.stderr).toBe(0);
    expect((await run(['ledger', 'list', '--json'])).code).toBe(0);
    expect((await run(['ledger', 'export', '--out', join(demo, 'export.jsonl')])).code).toBe(0);
    expect((await run(['ledger', 'verify'])).code).toBe(0);
    // The spec references the secret, so it is redacted even where this command never resolved
    // it: here an error that would echo it back.
    const echoed = await run(['ledger', 'show', CANARY]);
    expect(echoed.code).toBe(2);
    expect(echoed.stderr).toContain('[REDACTED]');
  });

  it('keeps the secret out of failing commands', async () => {
    const literal = join(root, 'literal.yaml');
    const spec = await readFile(join(demo, 'shipshape.yaml'), 'utf8');
    await writeFile(
      literal,
      spec.replace('${env:CANARY_SECRET}', CANARY).replace('${file:../secret.txt}', CANARY),
    );
    const broken = await run(['spec', 'check', '--spec', literal]);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('SHIP_SPEC_LITERAL_SECRET');
    const brokenJson = await run(['spec', 'check', '--spec', literal, '--json']);
    expect(brokenJson.code).toBe(2);

    // A signing key reference that resolves to the secret, which is not a key: the error must
    // explain the problem without echoing the value.
    const badKey = join(demo, 'bad-key.yaml');
    await writeFile(
      badKey,
      spec.replace('${file:.shipshape/keys/ledger.key}', '${env:CANARY_SECRET}'),
    );
    const failed = await run(['ledger', 'list', '--spec', badKey]);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(/SHIP_LEDGER_BAD_KEY|SHIP_/);
  });

  it('keeps the secret out of the server, its logs and its answers', async () => {
    const minted = await run(['users', 'token', 'operator', '--json']);
    expect(minted.code, minted.stderr).toBe(0);
    const token = (JSON.parse(minted.stdout) as { token: string }).token;
    const server = await startServe([], { cwd: demo, env });
    try {
      const remote = { ...env, SHIPSHAPE_SERVER: server.url, SHIPSHAPE_TOKEN: token };
      const echoed = await runCli(['ledger', 'show', CANARY], { cwd: demo, env: remote });
      runs.push(echoed);
      expect(echoed.code).toBe(2);
      const list = await runCli(['ledger', 'list', '--json'], { cwd: demo, env: remote });
      runs.push(list);
      expect(list.code).toBe(0);
    } finally {
      expect(await server.stop()).toBe(0);
    }
    expect(server.output.length).toBeGreaterThan(2);
    for (const line of server.output) expect(line).not.toContain(CANARY);
  });

  it('never wrote the secret anywhere', async () => {
    expect(runs.length).toBeGreaterThan(5);
    for (const r of runs) {
      expect(r.stdout).not.toContain(CANARY);
      expect(r.stderr).not.toContain(CANARY);
    }
    const files = await filesUnder(demo);
    expect(files.some((f) => f.endsWith('state.db'))).toBe(true);
    for (const file of files) {
      const bytes = await readFile(file);
      expect(bytes.includes(CANARY), `${file} contains the secret`).toBe(false);
    }
  });
});
