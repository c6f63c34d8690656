import type { DrillReportInput } from './evidence.js';
import { drillReport, type Block, type Cell } from './report-model.js';

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24;
  margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 12px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.verdict { border: 3px solid; border-radius: 8px; padding: 12px 16px; margin: 12px 0 20px; }
.verdict .label { font-size: 32px; font-weight: 800; letter-spacing: .04em; }
.verdict.good { border-color: #1a7f37; background: #dafbe1; color: #116329; }
.verdict.bad { border-color: #cf222e; background: #ffebe9; color: #a40e26; }
.verdict .summary { color: #1b1f24; margin-top: 4px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
table.fields th { width: 30%; }
td.right, th.right { text-align: right; white-space: nowrap; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { word-break: break-all; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 8px; white-space: pre-wrap; }
.good { color: #116329; }
.bad { color: #a40e26; }
.warn { color: #9a6700; }
.muted { color: #6e7781; }
ul { margin: 6px 0; }
.signoff { margin-top: 8px; }
.signoff div { display: flex; gap: 12px; margin: 18px 0 0; }
.signoff span.label { width: 120px; font-weight: 600; }
.signoff span.line { flex: 1; border-bottom: 1px solid #1b1f24; }
@media print {
  body { padding: 0; max-width: none; font-size: 11px; }
  h2 { break-after: avoid; }
  table, pre, .verdict, .signoff { break-inside: avoid; }
  .verdict { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;

function inline(cell: Cell): string {
  let html = escapeHtml(cell.text);
  if (cell.code === true) html = `<code>${html}</code>`;
  if (cell.strong === true) html = `<strong>${html}</strong>`;
  return cell.tone === undefined ? html : `<span class="${cell.tone}">${html}</span>`;
}

function tableHtml(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
  right: readonly number[],
): string {
  const cls = (i: number) => (right.includes(i) ? ' class="right"' : '');
  const head = headers.map((h, i) => `<th${cls(i)}>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map((row) => `<tr>${row.map((c, i) => `<td${cls(i)}>${inline(c)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

function block(b: Block): string {
  switch (b.kind) {
    case 'fields':
      return `<table class="fields">\n<tbody>\n${b.rows
        .map(([label, value]) => `<tr><th>${escapeHtml(label)}</th><td>${inline(value)}</td></tr>`)
        .join('\n')}\n</tbody>\n</table>`;
    case 'table':
      return tableHtml(b.headers, b.rows, b.right ?? []);
    case 'list':
      return `<ul>\n${b.items.map((item) => `<li>${inline(item)}</li>`).join('\n')}\n</ul>`;
    case 'text':
      return `<p>${inline(b.text)}</p>`;
    case 'code':
      return `<pre>${escapeHtml(b.text)}</pre>`;
    case 'signoff':
      return `<div class="signoff">\n${b.lines
        .map(
          (label) =>
            `<div><span class="label">${escapeHtml(label)}</span><span class="line"></span></div>`,
        )
        .join('\n')}\n</div>`;
  }
}

/**
 * Renders a recorded drill as one self-contained HTML page (inline CSS, no scripts, no external
 * assets), print-friendly, with the same sections as the Markdown report. Every value from the
 * record is HTML-escaped.
 *
 * @example writeFile('drill.html', renderDrillHtml(run))
 */
export function renderDrillHtml(run: DrillReportInput): string {
  const doc = drillReport(run);
  const sections = doc.sections
    .map(
      (section) =>
        `<section id="${escapeHtml(section.id)}">\n<h2>${escapeHtml(section.title)}</h2>\n${section.blocks
          .map(block)
          .join('\n')}\n</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(doc.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(doc.title)}</h1>
<div class="verdict ${doc.verdict.tone === 'good' ? 'good' : 'bad'}">
<div class="label">${escapeHtml(doc.verdict.label)}</div>
<div class="summary">${escapeHtml(doc.verdict.summary)}</div>
</div>
${sections}
</body>
</html>
`;
}
