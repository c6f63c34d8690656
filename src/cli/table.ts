/** A column of a plain-text table. */
export interface Column<Row> {
  header: string;
  value: (row: Row) => string | number | boolean | null | undefined;
  align?: 'left' | 'right';
  /** Longest cell before it is shortened with an ellipsis. @default 60 */
  max?: number;
}

function cell(value: string | number | boolean | null | undefined, max: number): string {
  const text = value === null || value === undefined ? '-' : String(value).replace(/\s+/g, ' ');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Renders rows as an aligned table with a header and a rule.
 *
 * @example
 * renderTable([{ n: 1 }], [{ header: 'N', value: (r) => r.n, align: 'right' }]);
 */
export function renderTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const cells = rows.map((row) => columns.map((c) => cell(c.value(row), c.max ?? 60)));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)),
  );
  const line = (values: string[]) =>
    values
      .map((v, i) => {
        const width = widths[i] ?? 0;
        return columns[i]?.align === 'right' ? v.padStart(width) : v.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.header)),
    line(widths.map((w) => '─'.repeat(w))),
    ...cells.map(line),
  ].join('\n');
}
