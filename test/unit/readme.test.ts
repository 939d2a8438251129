import { readFile } from 'node:fs/promises';
import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { DEFAULT_QUERY } from '../../src/graphiql.js';

describe('documented operations', () => {
  it('every graphql block in the README is valid against the schema', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) expect(validate(schema, parse(block)).map((e) => e.message)).toEqual([]);
  });

  it("GraphiQL's default query is valid against the schema", () => {
    expect(validate(schema, parse(DEFAULT_QUERY)).map((e) => e.message)).toEqual([]);
  });
});
