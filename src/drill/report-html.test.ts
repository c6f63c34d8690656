import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { DrillReportInput } from './evidence.js';
import { escapeHtml, renderDrillHtml } from './report-html.js';
import type { DrillResult } from './types.js';

const FIXTURES = ['passed', 'failed-fingerprint', 'failed-check', 'failed-rpo', 'interrupted'];

function fixture(name: string): DrillResult {
  const url = new URL(`../../test/fixtures/drill/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as DrillResult;
}

function recorded(result: DrillResult): DrillReportInput {
  return {
    ledger: {
      seq: 42,
      hash: 'c'.repeat(64),
      recordedAt: '2026-11-22T13:05:44.000Z',
      subject: 'service:shop',
    },
    result,
  };
}

describe('renderDrillHtml', () => {
  it.each(FIXTURES)('renders the %s fixture as one self-contained page', (name) => {
    const html = renderDrillHtml(recorded(fixture(name)));
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|<img|\bsrc=|\bhref=|url\(|@import/i);
    expect(html).toContain('@media print');
    expect(html.match(/<section /g)?.length).toBeGreaterThanOrEqual(9);
  });

  it('puts the verdict up front, big and coloured, and marks the slowest step', () => {
    const passed = renderDrillHtml(recorded(fixture('passed')));
    expect(passed).toContain('<div class="verdict good">\n<div class="label">PASSED</div>');
    expect(passed).toMatch(/<td>orders<\/td><td>restore<\/td>.*◀ slowest/);
    const failed = renderDrillHtml(recorded(fixture('failed-fingerprint')));
    expect(failed).toContain('<div class="verdict bad">\n<div class="label">FAILED</div>');
    expect(failed).toContain('changed public.order_lines');
  });

  it('has a sign-off block with a line per field', () => {
    const html = renderDrillHtml(recorded(fixture('passed')));
    for (const label of ['Reviewed by', 'Role', 'Date', 'Signature']) {
      expect(html).toContain(`<span class="label">${label}</span><span class="line"></span>`);
    }
  });

  it('escapes every value taken from the record', () => {
    const result = fixture('passed');
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
    const html = renderDrillHtml(recorded(hostile));
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
