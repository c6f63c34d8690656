import { z } from 'zod';
import { specSchema } from './schema.js';

/** Identifier of the published JSON Schema (a URN: it names the schema, nothing is fetched). */
export const SPEC_SCHEMA_ID = 'urn:shipshape:spec:v1';

/**
 * The spec's JSON Schema (draft 2020-12) describing the YAML as written: durations and sizes
 * are strings there, defaults are shown, references and cross-field rules are left to the
 * loader. Editors use it for completion; `schema/shipshape.schema.json` is this, committed.
 */
export function specJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(specSchema, { io: 'input', unrepresentable: 'any' });
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: SPEC_SCHEMA_ID,
    title: 'Shipshape stack spec (shipshape.yaml)',
    ...rest,
    // Top-level `x-…` keys are free for the author (anchors); the loader ignores them too.
    patternProperties: { '^x-': {} },
  };
}
