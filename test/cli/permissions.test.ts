import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('local operator permissions', () => {
  let root: string;
  const env = { SHIPSHAPE_DATABASE_URL: '', SHIPSHAPE_SERVER: '' };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-perm-'));
    expect((await runCli(['demo', '--dir', 'ws'], { cwd: root, env })).code).toBe(0);
    // Hand the operator's role to another OS user: this process's user now holds no role,
    // whatever $USER says.
    const spec = join(root, 'ws/shipshape.yaml');
    const text = await readFile(spec, 'utf8');
    await writeFile(spec, text.replace(/os_users: \[[^\]]*\]/, 'os_users: [someone-else]'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('may check the spec but not record evidence without a role that grants it', async () => {
    const cwd = join(root, 'ws');
    expect((await runCli(['spec', 'check'], { cwd, env })).code).toBe(0);
    const record = await runCli(['spec', 'check', '--record', '--json'], {
      cwd,
      env: { ...env, USER: 'someone-else', LOGNAME: 'someone-else' },
    });
    expect(record.code).toBe(19);
    expect(JSON.parse(record.stdout)).toMatchObject({ error: { code: 'SHIP_AUTH_FORBIDDEN' } });
    const append = await runCli(['ledger', 'append', '--event', 'note', '--subject', 'x'], {
      cwd,
      env,
    });
    expect(append.code).toBe(19);
    // Locally, reading is bounded by access to the state store's files, not by roles.
    const list = await runCli(['ledger', 'list', '--json'], { cwd, env });
    expect(JSON.parse(list.stdout)).toMatchObject({
      // The demo recorded its spec check (#1), its backup (#2) and its drill (#3).
      records: [
        expect.objectContaining({ seq: 3 }),
        expect.objectContaining({ seq: 2 }),
        expect.objectContaining({ seq: 1 }),
      ],
    });
  });
});
