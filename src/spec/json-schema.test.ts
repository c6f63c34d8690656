import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { specJsonSchema, SPEC_SCHEMA_ID } from './index.js';

describe('specJsonSchema', () => {
  const schema = specJsonSchema();

  it('has an id, a title and the top-level sections', () => {
    expect(schema.$id).toBe(SPEC_SCHEMA_ID);
    expect(schema.title).toContain('shipshape.yaml');
    expect(Object.keys(schema.properties as object)).toEqual([
      'version',
      'service',
      'people',
      'roles',
      'environments',
      'repositories',
      'datastores',
      'iac',
      'alerting',
      'ledger',
      'notifications',
      'drill',
    ]);
    expect(schema.required).toEqual(['version', 'service']);
    expect(schema.additionalProperties).toBe(false);
  });

  it('describes the YAML as written: durations are strings with their default', () => {
    const text = JSON.stringify(schema);
    expect(text).toContain('"default":"24h"');
    expect(text).toContain('"default":"UTC"');
  });

  it('matches the committed schema/shipshape.schema.json (run `npm run schema:write`)', () => {
    const committed = readFileSync(
      new URL('../../schema/shipshape.schema.json', import.meta.url),
      'utf8',
    );
    expect(committed).toBe(`${JSON.stringify(schema, null, 2)}\n`);
  });
});
