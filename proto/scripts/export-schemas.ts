// Writes every wire schema as JSON Schema under proto/schemas/, for non-TypeScript clients.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import * as proto from '@airlock/proto';

const out = join(import.meta.dirname, '..', 'schemas');
mkdirSync(out, { recursive: true });
let count = 0;
for (const [name, value] of Object.entries(proto)) {
  if (!name.endsWith('Schema') || !(value instanceof z.ZodType)) continue;
  const json = z.toJSONSchema(value, { unrepresentable: 'any' });
  writeFileSync(join(out, `${name.replace(/Schema$/, '')}.json`), JSON.stringify(json, null, 2) + '\n');
  count++;
}
process.stdout.write(`wrote ${count} JSON Schemas to ${out}\n`);
