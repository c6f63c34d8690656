/**
 * Writes schema/shipshape.schema.json from the spec's zod schema. Run after changing the
 * schema (`npm run schema:write`); a test fails while the committed file is stale.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { specJsonSchema } from '../src/spec/index.js';

const target = fileURLToPath(new URL('../schema/shipshape.schema.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(specJsonSchema(), null, 2)}\n`);
process.stdout.write(`wrote ${target}\n`);
