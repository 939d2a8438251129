import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { DEFAULT_QUERY } from '../../src/graphiql.js';
import { readmeBlocks } from '../helpers/readme.js';

describe('documented operations', () => {
  it('every graphql block in the README is valid against the schema', async () => {
    const blocks = await readmeBlocks('graphql');
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) expect(validate(schema, parse(block)).map((e) => e.message)).toEqual([]);
  });

  it("GraphiQL's default query is valid against the schema", () => {
    expect(validate(schema, parse(DEFAULT_QUERY)).map((e) => e.message)).toEqual([]);
  });
});
