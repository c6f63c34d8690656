import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('shipshape init', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipshape-init-'));
    await writeFile(join(dir, 'Dockerfile'), 'FROM node:20\nCMD ["node", "server.js"]\n');
    await mkdir(join(dir, '.github/workflows'), { recursive: true });
    await writeFile(join(dir, '.github/workflows/ci.yml'), 'on: push\njobs: {}\n');
    await mkdir(join(dir, 'k8s'));
    await writeFile(
      join(dir, 'k8s/deploy.yaml'),
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\n',
    );
    await writeFile(
      join(dir, 'docker-compose.yml'),
      'services:\n  db:\n    image: postgres:15\n  cache:\n    image: redis:7-alpine\n  web:\n    build: .\n',
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes a valid, commented starter spec filled from what it detects', async () => {
    const run = await runCli(['init', '--name', 'Orders API', '--json'], { cwd: dir });
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const text = await readFile(join(dir, 'shipshape.yaml'), 'utf8');
    expect(text).toContain('#');
    expect(text).toContain('orders-api');
    expect(text).toMatch(/kind: postgres/);
    expect(text).toMatch(/kind: redis/);
    expect(text).toContain('k8s');
    const check = await runCli(['spec', 'check', '--json'], {
      cwd: dir,
      env: { SHIPSHAPE_DATABASE_URL: '' },
    });
    expect(check.code, check.stderr + check.stdout).toBe(0);
    expect(await readFile(join(dir, '.gitignore'), 'utf8')).toContain('.shipshape/');
  });

  it('refuses to overwrite an existing spec without --force', async () => {
    const run = await runCli(['init'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('SHIP_INIT_EXISTS');
  });
});
