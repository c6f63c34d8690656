import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Repository,
  acquireLock,
  deriveSubkeys,
  openFsBackend,
  openKeyFile,
  parseKeyFileText,
} from '../../src/repo/index.js';
import { runCli } from '../helpers/cli.js';

const KDF = { N: 1024, r: 8, p: 1 };
const password = 'failed runs password';
const me = userInfo().username;

interface LedgerRecord {
  kind: string;
  subject: string;
  body: { type: string; details: Record<string, unknown> };
}

/** A held or stale lock is an exit code (13) and, inside a workspace, a recorded failed run. */
describe('failed repository runs', () => {
  let root: string;
  let ws: string;
  const env = {
    SHIPSHAPE_REPO_PASSWORD: '',
    SHIPSHAPE_REPO: '',
    SHIPSHAPE_DATABASE_URL: '',
    SHIPSHAPE_SERVER: '',
    REPO_KEY: password,
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shipshape-failed-runs-'));
    ws = join(root, 'ws');
    const repo = await Repository.init(openFsBackend(join(ws, 'repo')), password, { kdf: KDF });
    await writeFile(
      join(ws, 'shipshape.yaml'),
      `version: 1
service:
  name: shop
people:
  me:
    name: Me
    os_users: [${JSON.stringify(me)}]
roles:
  sre-lead: [me]
repositories:
  local:
    url: ./repo
    key: \${env:REPO_KEY}
`,
    );
    // What a crashed prune leaves behind: an exclusive lock of a process that no longer runs.
    const file = parseKeyFileText(
      (await repo.backend.get('keys', repo.keyId)).toString('utf8'),
      repo.keyId,
    );
    const key = deriveSubkeys(await openKeyFile(file, password, { id: repo.keyId })).encryption;
    await acquireLock(repo.backend, key, {
      kind: 'exclusive',
      operation: 'prune',
      pid: 2 ** 22 + 4321,
    });
    await repo.close();
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('a stale lock fails the backup with exit 13 naming the holder and `repo unlock`, and the ledger records it', async () => {
    const backup = await runCli(['repo', 'backup', '--repo', 'local', '-'], {
      cwd: ws,
      env,
      input: Buffer.from('nightly dump'),
    });
    expect(backup.code).toBe(13);
    expect(backup.stderr).toContain('SHIP_REPO_LOCK_STALE');
    expect(backup.stderr).toContain(`by ${me} on`);
    expect(backup.stderr).toContain('(pid 4198625)');
    expect(backup.stderr).toContain('shipshape repo unlock');

    const check = await runCli(['repo', 'check', '--repo', 'local', '--json'], { cwd: ws, env });
    expect(check.code).toBe(13);
    expect(JSON.parse(check.stdout)).toMatchObject({ error: { code: 'SHIP_REPO_LOCK_STALE' } });

    const list = await runCli(['ledger', 'list', '--json'], { cwd: ws, env });
    expect(list.code, list.stderr).toBe(0);
    const records = (JSON.parse(list.stdout) as { records: LedgerRecord[] }).records.filter(
      (r) => r.kind === 'event' && r.body.type === 'repo-run-failed',
    );
    expect(records.map((r) => r.body.details.operation).sort()).toEqual(['backup', 'check']);
    const [recorded] = records.filter((r) => r.body.details.operation === 'backup');
    expect(recorded).toMatchObject({
      subject: 'repository:local',
      body: {
        details: {
          repository: 'local',
          location: join(ws, 'repo'),
          code: 'SHIP_REPO_LOCK_STALE',
          exitCode: 13,
          locks: [
            expect.objectContaining({
              kind: 'exclusive',
              operation: 'prune',
              holder: me,
              pid: 2 ** 22 + 4321,
              stale: true,
              staleReason: 'dead-pid',
            }),
          ],
        },
      },
    });
    expect(typeof (recorded?.body.details.locks as { ageMs: unknown }[])[0]?.ageMs).toBe('number');

    // Once unlocked, the same backup succeeds and records no failure.
    expect((await runCli(['repo', 'unlock', '--repo', 'local'], { cwd: ws, env })).code).toBe(0);
    const retry = await runCli(['repo', 'backup', '--repo', 'local', '-'], {
      cwd: ws,
      env,
      input: Buffer.from('nightly dump'),
    });
    expect(retry.code, retry.stderr).toBe(0);
    const after = await runCli(['ledger', 'list', '--json'], { cwd: ws, env });
    expect(
      (JSON.parse(after.stdout) as { records: LedgerRecord[] }).records.filter(
        (r) => r.body.type === 'repo-run-failed',
      ),
    ).toHaveLength(2);
  }, 60_000);
});
