import { describe, expect, it } from 'vitest';
import { renderDrillMarkdown } from './report-md.js';
import type { DrillResult } from './types.js';
import {
  drillFixture,
  RECORDED_HASH,
  recordedDrill,
} from '../../test/drill/fixtures/drill-results.js';

/** The table row of a Markdown report whose first cells are `cells`. */
function row(markdown: string, ...cells: string[]): string {
  const start = `| ${cells.join(' | ')} |`;
  const found = markdown.split('\n').find((line) => line.startsWith(start));
  if (found === undefined) throw new Error(`no row starting ${start}`);
  return found;
}

/** Cells of a table row, honouring `\|` escapes. */
function cells(line: string): string[] {
  return line
    .slice(2, -2)
    .split(/(?<!\\) \| /)
    .map((c) => c.trim());
}

describe('renderDrillMarkdown', () => {
  it('renders a passed drill: verdict, objectives vs measured, plan, slowest step, evidence, sign-off', () => {
    const md = renderDrillMarkdown(recordedDrill(drillFixture('passed')));
    expect(md).toContain('## Verdict: ✅ PASSED');
    expect(md).toContain(
      '> DR drill passed: RTO 41.2 s (objective 15 m), RPO 2 h 3 m (objective 6 h)',
    );
    expect(md).toContain('| Run | `20261122T130500Z-3fa4c2` |');
    expect(cells(row(md, '**RTO**'))).toEqual(['**RTO**', '15 m', '41.2 s (41200 ms)', 'met']);
    expect(cells(row(md, '**RPO**'))).toEqual(['**RPO**', '6 h', '2 h 3 m (7381700 ms)', 'met']);
    expect(cells(row(md, '**orders**', 'postgres'))).toEqual([
      '**orders**',
      'postgres',
      'offsite',
      '`9f2c4e1a7b3d`',
      '2026-11-22T11:02:00.000Z',
      '2026-11-22T11:01:58.300Z',
      '`lsn 0/3A000110`',
      'sandbox',
      '700MiB (734003200 B)',
      'orders-not-empty, no-orphan-lines',
    ]);
    expect(row(md, 'orders', 'restore')).toContain('**◀ slowest**');
    expect(md.match(/◀ slowest/g)).toHaveLength(1);
    expect(md).toContain(`| Record hash | \`${RECORDED_HASH}\` |`);
    expect(md).toContain('| Ledger record | \\#42 |');
    for (const label of ['Reviewed by', 'Role', 'Date', 'Signature']) {
      expect(md).toContain(`**${label}:** ______`);
    }
    expect(md).toContain('shipshape ledger append --event sign-off --subject service:shop');
    expect(md).not.toContain('## Why it did not pass');
  });

  it('names the mismatching table of a fingerprint failure', () => {
    const md = renderDrillMarkdown(recordedDrill(drillFixture('failed-fingerprint')));
    expect(md).toContain('## Verdict: ❌ FAILED');
    expect(md).toContain(
      '- orders: fingerprint mismatch (counts): table public.order\\_lines differs',
    );
    const integrity = cells(row(md, 'orders', 'counts'));
    expect(integrity[4]).toBe('**MISMATCH**');
    expect(integrity[5]).toBe('changed public.order\\_lines');
    expect(cells(row(md, '**RTO**'))[2]).toBe('not recovered');
    expect(cells(row(md, '**RTO**'))[3]).toBe('**not measured**');
  });

  it('shows the failed smoke check with what was expected and what came back', () => {
    const md = renderDrillMarkdown(recordedDrill(drillFixture('failed-check')));
    const check = cells(row(md, 'service', '**api-orders**'));
    expect(check.slice(3, 6)).toEqual([
      '`status 200, $.count = 1042`',
      '`status 500, body "relation \\"orders\\" does not exist"`',
      '**FAILED**',
    ]);
  });

  it('shows a missed RPO with both numbers and the simulated disaster time', () => {
    const md = renderDrillMarkdown(recordedDrill(drillFixture('failed-rpo')));
    expect(cells(row(md, '**RPO**'))).toEqual([
      '**RPO**',
      '30 m (from orders)',
      '1 h 28 m (5281700 ms)',
      '**MISSED**',
    ]);
    expect(md).toContain(
      '| Disaster time (RPO measured to) | 2026-11-22T12:30:00.000Z (simulated with --at) |',
    );
  });

  it('reports an interrupted drill as an error with the error that stopped it', () => {
    const md = renderDrillMarkdown(recordedDrill(drillFixture('interrupted')));
    expect(md).toContain('## Verdict: ❌ ERROR (interrupted)');
    expect(row(md, 'orders', '`SHIP_DRILL_INTERRUPTED`')).toContain(
      'restore of orders interrupted by SIGINT',
    );
    expect(row(md, 'orders', 'restore')).toContain('FAILED');
    expect(md).not.toContain('## Service');
  });

  it('says when the result is not recorded in the ledger', () => {
    const md = renderDrillMarkdown({ result: drillFixture('passed') });
    expect(md).toContain('This result is not recorded in the evidence ledger');
    expect(md).toContain(`--details '{"run":"20261122T130500Z-3fa4c2"}'`);
  });

  it('escapes values so they cannot break a table or inject markup', () => {
    const result = drillFixture('failed-check');
    const service = result.service;
    if (service === null) throw new Error('fixture has a service');
    const [home] = service.checks;
    if (home === undefined) throw new Error('fixture has checks');
    const hostile: DrillResult = {
      ...result,
      plan: { ...result.plan, serviceName: 'shop <img src=x onerror=alert(1)>' },
      service: {
        ...service,
        checks: [{ ...home, name: 'a|b [x](http://evil)', actual: 'x | y\nsecond `line`' }],
      },
    };
    const md = renderDrillMarkdown(recordedDrill(hostile));
    expect(md).toContain('# DR drill report: shop \\<img src=x onerror=alert(1)\\> (production)');
    const line = row(md, 'service', '**a\\|b \\[x\\](http://evil)**');
    expect(cells(line)).toHaveLength(7);
    expect(cells(line)[4]).toBe('`` x \\| y second `line` ``');
  });
});
