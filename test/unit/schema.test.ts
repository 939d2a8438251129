import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { printSchemaSdl } from '../../src/schema/print.js';

describe('schema/schema.graphql', () => {
  it('matches the Pothos schema (run `npm run codegen` after a schema change)', async () => {
    const committed = await readFile(new URL('../../schema/schema.graphql', import.meta.url), 'utf8');
    expect(committed.trim()).toBe(printSchemaSdl().trim());
  });
});
