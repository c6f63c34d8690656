/**
 * `shipshape drill report` and `drill history` through the built binary, on a ledger seeded
 * with the drill fixtures (recorded with `ledger append --file`, as any dr-drill result is).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { drillEvidence, type DrillResult } from '../../src/drill/index.js';
import { runCli, type CliRun } from '../helpers/cli.js';

import { DRILL_FIXTURES, drillFixture } from './fixtures/drill-results.js';

const SPEC = `version: 1
service:
  name: shop
people:
  operator:
    name: Drill Operator
    os_users: [${JSON.stringify(userInfo().username)}]
roles:
  admin: [operator]
`;

function fixture(name: string): DrillResult {
  const result = drillFixture(name);
  // Run ids of their own, so nothing here could be mistaken for a real drill.
  return { ...result, plan: { ...result.plan, id: `${result.plan.id}-cli` } };
}

describe('drill report and history CLI', () => {
  let dir: string;
  const env = { SHIPSHAPE_DATABASE_URL: '', SHIPSHAPE_SERVER: '' };
  const results: DrillResult[] = [];

  const run = (args: string[]): Promise<CliRun> => runCli(args, { cwd: dir, env });

  async function append(evidence: unknown): Promise<void> {
    const file = join(dir, 'evidence.json');
    await writeFile(file, JSON.stringify(evidence));
    const appended = await run(['ledger', 'append', '--file', file]);
    expect(appended.stderr).toBe('');
    expect(appended.code).toBe(0);
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipshape-drill-report-'));
    await writeFile(join(dir, 'shipshape.yaml'), SPEC);
    for (const [index, name] of DRILL_FIXTURES.entries()) {
      const result = fixture(name);
      results.push(result);
      await append(drillEvidence(result, 30 * 86_400_000));
      if (index === 1) {
        // A dr-drill result recorded by hand, whose details are not a drill result.
        await append({
          kind: 'gate-result',
          subject: 'service:shop',
          body: {
            gate: 'dr-drill',
            outcome: 'passed',
            startedAt: '2026-11-22T10:00:00Z',
            finishedAt: '2026-11-22T10:01:00Z',
            details: { note: 'drilled by hand' },
          },
        });
      }
    }
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the drills over time, skipping a record that is not a drill result', async () => {
    const history = await run(['drill', 'history']);
    expect(history.code).toBe(0);
    expect(history.stderr).toContain('warning: ledger record #3 (dr-drill) skipped');
    const lines = history.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^WHEN\s+RUN\s+VERDICT\s+RTO\s+RPO\s+OBJECTIVES$/);
    expect(lines).toHaveLength(2 + DRILL_FIXTURES.length);
    expect(lines[2]).toMatch(
      /^2026-11-22T13:05:00Z\s+20261122T130500Z-3fa4c2-cli\s+passed\s+41\.2 s\s+2 h 3 m\s+met$/,
    );
    expect(lines[5]).toMatch(
      /20261122T160000Z-0a9e33-cli\s+failed \*\s+41\.2 s\s+1 h 28 m\s+MISSED$/,
    );
    expect(lines[6]).toMatch(/error \(interrupted\)\s+-\s+5 h 58 m\s+MISSED$/);
  });

  it('shows one data store over time, newest N, as JSON too', async () => {
    const table = await run(['drill', 'history', '--datastore', 'orders', '--limit', '2']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/ORDERS RTO\s+ORDERS RPO\s+ORDERS OBJECTIVES$/);
    expect(lines.slice(2).map((l) => l.split(/\s{2,}/)[1])).toEqual([
      '20261122T160000Z-0a9e33-cli',
      '20261122T170000Z-e71f02-cli',
    ]);
    expect(lines[2]).toMatch(/31\.6 s\s+1 h 28 m\s+MISSED$/);

    const json = await run(['drill', 'history', '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      runs: { runId: string; seq: number }[];
      skipped: string[];
    };
    expect(parsed.runs.map((r) => r.runId)).toEqual(results.map((r) => r.plan.id));
    expect(parsed.runs.map((r) => r.seq)).toEqual([1, 2, 4, 5, 6]);
    expect(parsed.skipped).toEqual([expect.stringContaining('#3')]);
  });

  it('refuses a data store no drill restored, suggesting the right one', async () => {
    const wrong = await run(['drill', 'history', '--datastore', 'ordres']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('SHIP_DRILL_UNKNOWN_DATASTORE');
    expect(wrong.stderr).toContain('--datastore orders');
  });

  it('renders a run as Markdown by id prefix, and `latest`', async () => {
    const md = await run(['drill', 'report', '20261122T140000Z']);
    expect(md.code).toBe(0);
    expect(md.stdout).toContain('## Verdict: ❌ FAILED');
    expect(md.stdout).toContain('changed public.order\\_lines');
    expect(md.stdout).toContain('| Ledger record | \\#2 |');
    const latest = await run(['drill', 'report', 'latest']);
    expect(latest.stdout).toContain('ERROR (interrupted)');
    expect(latest.stdout).toContain('| Ledger record | \\#6 |');
  });

  it('writes the HTML report to a file', async () => {
    const out = join(dir, 'drill.html');
    const html = await run(['drill', 'report', results[0]!.plan.id, '--format', 'html', '-o', out]);
    expect(html.code).toBe(0);
    expect(html.stdout).toBe('');
    expect(html.stderr).toContain(`wrote the html report of ${results[0]!.plan.id} to ${out}`);
    const page = await readFile(out, 'utf8');
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).toContain('<div class="label">PASSED</div>');
  });

  it('prints the ledger record and the result as JSON', async () => {
    const json = await run(['drill', 'report', results[3]!.plan.id, '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      ledger: { seq: number; hash: string };
      result: unknown;
    };
    expect(parsed.ledger.seq).toBe(5);
    expect(parsed.ledger.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(parsed.result).toEqual(results[3]);
    const show = await run(['ledger', 'show', '5', '--json']);
    expect((JSON.parse(show.stdout) as { hash: string }).hash).toBe(parsed.ledger.hash);
  });

  it('exits 2 on an unknown run, an ambiguous prefix and a bad format', async () => {
    const none = await run(['drill', 'report', '2099']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('SHIP_DRILL_RUN_NOT_FOUND');
    expect(none.stderr).toContain('shipshape drill history');
    const ambiguous = await run(['drill', 'report', '20261122T1']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('SHIP_DRILL_RUN_AMBIGUOUS');
    expect(ambiguous.stderr).toContain('20261122T130500Z-3fa4c2-cli');
    const format = await run(['drill', 'report', 'latest', '--format', 'pdf']);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain('--format must be one of md, html, json');
  });
});
