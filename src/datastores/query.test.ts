import { describe, expect, it } from 'vitest';

import { parseMariadbXml, queryValue } from './query.js';

describe('parseMariadbXml', () => {
  it('reads rows, NULLs, entities and several result sets', () => {
    const text = [
      '<?xml version="1.0"?>',
      '',
      '<resultset statement="SELECT …" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
      '  <row>',
      '\t<field name="a">1</field>',
      '\t<field name="b" xsi:nil="true" />',
      '\t<field name="c">x&lt;y&amp;&quot;z\ttab&#10;line</field>',
      '\t<field name="d">NULL</field>',
      '\t<field name="e"></field>',
      '  </row>',
      '</resultset>',
      '<?xml version="1.0"?>',
      '',
      '<resultset statement="SELECT 1 FROM dual WHERE 0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"></resultset>',
    ].join('\n');
    expect(parseMariadbXml(text)).toEqual([[['1', null, 'x<y&"z\ttab\nline', 'NULL', '']], []]);
  });

  it('finds no result set in empty output', () => {
    expect(parseMariadbXml('')).toEqual([]);
  });
});

describe('queryValue', () => {
  it('refuses kinds that cannot run SQL', async () => {
    await expect(
      queryValue('files', { name: 'uploads', connection: '/srv/uploads' }, 'SELECT 1'),
    ).rejects.toMatchObject({
      code: 'SHIP_DATASTORE_QUERY_UNSUPPORTED',
      exitCode: 2,
      message: 'data store uploads is a files store, which cannot run SQL checks',
    });
  });
});
