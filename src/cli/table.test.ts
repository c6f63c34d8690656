import { describe, expect, it } from 'vitest';
import { renderTable } from './table.js';

describe('renderTable', () => {
  it('aligns columns and shortens long cells', () => {
    const text = renderTable(
      [
        { seq: 1, name: 'a' },
        { seq: 120, name: 'x'.repeat(20) },
      ],
      [
        { header: 'SEQ', value: (r) => r.seq, align: 'right' },
        { header: 'NAME', value: (r) => r.name, max: 8 },
      ],
    );
    expect(text.split('\n')).toEqual(['SEQ  NAME', '───  ────────', '  1  a', '120  xxxxxxx…']);
  });

  it('prints a dash for missing values', () => {
    expect(renderTable([{ v: null }], [{ header: 'V', value: (r) => r.v }])).toContain('-');
  });
});
