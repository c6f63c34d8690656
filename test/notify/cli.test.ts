/**
 * `shipshape notify test` and `notify deliveries`, run as the built binary against real
 * receivers that verify every signature.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { startReceiver, type Receiver } from './receiver.js';

const OPS_SECRET = `whsec_ops_${randomBytes(12).toString('hex')}`;
const AUDIT_SECRET = `whsec_audit_${randomBytes(12).toString('hex')}`;

interface TestReport {
  ok: boolean;
  notification: { id: string; type: string; subject: string };
  deliveries: {
    channel: string;
    status: string;
    attempts: { httpStatus?: number }[];
    error?: { code: string; message: string };
  }[];
}

describe('shipshape notify', () => {
  let dir: string;
  let ops: Receiver;
  let audit: Receiver;
  const runs: CliRun[] = [];
  const baseEnv = { OPS_WEBHOOK_SECRET: OPS_SECRET, SHIPSHAPE_DATABASE_URL: '' };

  async function run(args: string[], env: NodeJS.ProcessEnv = baseEnv): Promise<CliRun> {
    const result = await runCli(args, { cwd: dir, env });
    runs.push(result);
    return result;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipshape-notify-cli-'));
    ops = await startReceiver({ secret: OPS_SECRET });
    audit = await startReceiver({ secret: AUDIT_SECRET });
    await writeFile(join(dir, 'audit.secret'), `${AUDIT_SECRET}\n`);
    await writeFile(
      join(dir, 'shipshape.yaml'),
      [
        'version: 1',
        'service:',
        '  name: shop',
        'notifications:',
        '  channels:',
        '    ops:',
        '      kind: webhook',
        `      url: ${ops.origin}/hooks/ops`,
        '      secret: ${env:OPS_WEBHOOK_SECRET}',
        '    audit:',
        '      kind: webhook',
        `      url: ${audit.origin}/hooks/audit`,
        '      secret: ${file:audit.secret}',
        '      retries: 0',
        '      events: [gate-failed]',
        '',
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await ops.close();
    await audit.close();
    await rm(dir, { recursive: true, force: true });
    // Whatever ran, no secret was printed.
    for (const r of runs) {
      expect(r.stdout + r.stderr).not.toContain(OPS_SECRET);
      expect(r.stdout + r.stderr).not.toContain(AUDIT_SECRET);
    }
  });

  beforeEach(() => {
    ops.requests.length = 0;
    audit.requests.length = 0;
  });

  it('sends a signed test notification to every channel and exits 0', async () => {
    const result = await run(['notify', 'test', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as TestReport;
    expect(report.ok).toBe(true);
    expect(report.notification).toMatchObject({ type: 'test', subject: 'shop' });
    expect(report.deliveries.map((d) => [d.channel, d.status, d.attempts[0]?.httpStatus])).toEqual([
      ['ops', 'delivered', 200],
      ['audit', 'delivered', 200],
    ]);
    // `test` passes audit's `events: [gate-failed]` filter; both receivers verified the HMAC.
    for (const receiver of [ops, audit]) {
      expect(receiver.requests).toHaveLength(1);
      expect(receiver.requests[0]?.verification.ok).toBe(true);
      expect(receiver.requests[0]?.payload?.id).toBe(report.notification.id);
    }
  });

  it('sends to one named channel and prints a table', async () => {
    const result = await run(['notify', 'test', 'ops']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/ops\s+✓ delivered\s+1\s+200/);
    expect(result.stdout).toContain('1 of 1 channel delivered');
    expect(ops.requests).toHaveLength(1);
    expect(audit.requests).toHaveLength(0);
  });

  it('exits 3 and shows the HTTP status when a channel fails', async () => {
    audit.reply({ status: 400, body: 'unknown hook' });
    const result = await run(['notify', 'test', '--json']);
    expect(result.code).toBe(3);
    const report = JSON.parse(result.stdout) as TestReport;
    expect(report.ok).toBe(false);
    const failed = report.deliveries.find((d) => d.channel === 'audit');
    expect(failed).toMatchObject({
      status: 'failed',
      attempts: [{ httpStatus: 400 }],
      error: { code: 'SHIP_NOTIFY_HTTP_STATUS' },
    });
    expect(failed?.error?.message).toContain('unknown hook');
  });

  it('names the unset variable when a secret is missing, only when notifying', async () => {
    const env = { ...baseEnv, OPS_WEBHOOK_SECRET: undefined };
    const result = await run(['notify', 'test', 'ops'], env);
    expect(result.code, result.stdout + result.stderr).toBe(3);
    expect(result.stdout).toContain('SHIP_SECRET_UNSET');
    expect(result.stdout).toContain('OPS_WEBHOOK_SECRET');
    expect(result.stdout).toContain('notifications.channels.ops.secret');
    expect(ops.requests).toHaveLength(0);
    // Loading the spec did not need it.
    expect((await run(['spec', 'check'], env)).code).toBe(0);
  });

  it('rejects an unknown channel with a suggestion (exit 2)', async () => {
    const result = await run(['notify', 'test', 'opps', '--json']);
    expect(result.code).toBe(2);
    const body = JSON.parse(result.stdout) as { error: { code: string; hint: string } };
    expect(body.error.code).toBe('SHIP_NOTIFY_UNKNOWN_CHANNEL');
    expect(body.error.hint).toBe('did you mean ops?');
  });

  it('lists recorded deliveries', async () => {
    const json = await run(['notify', 'deliveries', '--channel', 'audit', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const { deliveries } = JSON.parse(json.stdout) as { deliveries: TestReport['deliveries'] };
    expect(deliveries.map((d) => d.status)).toEqual(['failed', 'delivered']);

    const text = await run(['notify', 'deliveries']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('CHANNEL');
    expect(text.stdout).toContain('unknown hook');
  });

  it('says how to add a channel when the spec has none (exit 2)', async () => {
    const bare = await mkdtemp(join(tmpdir(), 'shipshape-notify-bare-'));
    try {
      await writeFile(join(bare, 'shipshape.yaml'), 'version: 1\nservice:\n  name: shop\n');
      const result = await runCli(['notify', 'test'], { cwd: bare, env: baseEnv });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('SHIP_NOTIFY_NO_CHANNELS');
      expect(result.stderr).toContain('notifications.channels');
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });
});
