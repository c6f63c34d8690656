import { describe, expect, it } from 'vitest';
import { escapeHtml, renderDrillHtml } from './report-html.js';
import type { DrillResult } from './types.js';
import {
  DRILL_FIXTURES,
  drillFixture,
  recordedDrill,
} from '../../test/drill/fixtures/drill-results.js';

describe('renderDrillHtml', () => {
  it.each(DRILL_FIXTURES)('renders the %s fixture as one self-contained page', (name) => {
    const html = renderDrillHtml(recordedDrill(drillFixture(name)));
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|<img|\bsrc=|\bhref=|url\(|@import/i);
    expect(html).toContain('@media print');
    expect(html.match(/<section /g)?.length).toBeGreaterThanOrEqual(9);
  });

  it('puts the verdict up front, big and coloured, and marks the slowest step', () => {
    const passed = renderDrillHtml(recordedDrill(drillFixture('passed')));
    expect(passed).toContain('<div class="verdict good">\n<div class="label">PASSED</div>');
    expect(passed).toMatch(/<td>orders<\/td><td>restore<\/td>.*◀ slowest/);
    const failed = renderDrillHtml(recordedDrill(drillFixture('failed-fingerprint')));
    expect(failed).toContain('<div class="verdict bad">\n<div class="label">FAILED</div>');
    expect(failed).toContain('changed public.order_lines');
  });

  it('has a sign-off block with a line per field', () => {
    const html = renderDrillHtml(recordedDrill(drillFixture('passed')));
    for (const label of ['Reviewed by', 'Role', 'Date', 'Signature']) {
      expect(html).toContain(`<span class="label">${label}</span><span class="line"></span>`);
    }
  });

  it('escapes every value taken from the record', () => {
    const result = drillFixture('passed');
    const service = result.service;
    if (service === null) throw new Error('fixture has a service');
    const hostile: DrillResult = {
      ...result,
      plan: { ...result.plan, serviceName: '<script>alert(1)</script>' },
      reasons: ['"quoted" & \'single\''],
      verdict: 'failed',
      service: { ...service, logTail: '</pre><img src=x onerror=alert(1)>' },
      environment: { ...result.environment, tools: { '<b>tool</b>': '1 < 2' } },
    };
    const html = renderDrillHtml(recordedDrill(hostile));
    expect(html).not.toMatch(/<script|<img|<b>/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&quot;quoted&quot; &amp; &#39;single&#39;');
    expect(html).toContain('<th>&lt;b&gt;tool&lt;/b&gt;</th><td>1 &lt; 2</td>');
  });

  it('escapes the five HTML special characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
    );
  });
});
