import type { DrillReportInput } from './evidence.js';
import { drillReport, type Block, type Cell } from './report-model.js';

/** Escapes Markdown syntax in plain text so a value cannot become a link, emphasis or HTML. */
function escapeText(value: string): string {
  return value.replace(/[\\`*_[\]<>#|~]/g, (c) => `\\${c}`);
}

function inline(cell: Cell, inTable: boolean): string {
  const flat = inTable ? cell.text.replace(/\s*\n\s*/g, ' ') : cell.text;
  if (flat === '') return '';
  let out: string;
  if (cell.code === true) {
    const fence = flat.includes('`') ? '``' : '`';
    const body = inTable ? flat.replace(/\|/g, '\\|') : flat;
    out = `${fence}${fence === '``' ? ` ${body} ` : body}${fence}`;
  } else {
    out = escapeText(flat);
  }
  return cell.strong === true ? `**${out}**` : out;
}

function table(
  headers: readonly string[],
  rows: readonly (readonly Cell[])[],
  right: readonly number[],
): string[] {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [
    line(headers.map((h) => (h === '' ? ' ' : escapeText(h)))),
    line(headers.map((_, i) => (right.includes(i) ? '---:' : '---'))),
    ...rows.map((row) => line(row.map((cell) => inline(cell, true) || ' '))),
  ];
}

function block(b: Block): string[] {
  switch (b.kind) {
    case 'fields':
      return table(
        ['Field', 'Value'],
        b.rows.map(([label, value]) => [{ text: label }, value]),
        [],
      );
    case 'table':
      return table(b.headers, b.rows, b.right ?? []);
    case 'list':
      return b.items.map((item) => `- ${inline(item, true)}`);
    case 'text':
      return [inline(b.text, false)];
    case 'code': {
      const fence = b.text.includes('```') ? '~~~~' : '```';
      return [`${fence}text`, b.text, fence];
    }
    case 'signoff':
      return b.lines
        .flatMap((label) => [`**${escapeText(label)}:** ______________________________`, ''])
        .slice(0, -1);
  }
}

/**
 * Renders a recorded drill as a Markdown report a reviewer can read and sign: verdict,
 * objectives vs measured, plan, timeline (slowest step marked), integrity, checks, environment,
 * the ledger record it comes from and a sign-off block. Every value from the record is escaped.
 *
 * @example writeFile('drill.md', renderDrillMarkdown(run))
 */
export function renderDrillMarkdown(run: DrillReportInput): string {
  const doc = drillReport(run);
  const lines: string[] = [
    `# ${escapeText(doc.title)}`,
    '',
    `## Verdict: ${doc.verdict.tone === 'good' ? '✅' : '❌'} ${escapeText(doc.verdict.label)}`,
    '',
    `> ${escapeText(doc.verdict.summary)}`,
  ];
  for (const section of doc.sections) {
    lines.push('', `## ${escapeText(section.title)}`);
    for (const b of section.blocks) lines.push('', ...block(b));
  }
  return `${lines.join('\n')}\n`;
}
