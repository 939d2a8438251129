/**
 * graphql-jit's bug behind issue 17's crash, reproduced without this project's code (graphql-jit-union-list.md is
 * the upstream report). These tests assert graphql-jit's current wrong behaviour beside graphql-js's right one, so
 * that they fail once an upgrade fixes it: then compiled execution can be looked at again.
 */
import { readFileSync } from 'node:fs';
import { execute } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { beforeEach, describe, expect, it } from 'vitest';
import { spawnEntry } from '../helpers/process.js';
import { abstractTypesSeen, EXPECTED_LIST, MUTATION, QUERY, schema } from './graphql-jit-union-list.schema.js';

const JIT_VERSION = (
  JSON.parse(readFileSync(new URL('../../node_modules/graphql-jit/package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

function compiled(document: typeof QUERY) {
  const query = compileQuery(schema, document);
  if (!isCompiledQuery(query)) throw new Error(`did not compile: ${JSON.stringify(query)}`);
  return query;
}

beforeEach(() => {
  abstractTypesSeen.length = 0;
});

describe('graphql-js (the reference)', () => {
  it('passes the union to resolveType as its fourth argument and answers the list', async () => {
    for (const [document, field] of [
      [QUERY, 'outcomes'],
      [MUTATION, 'createMany'],
    ] as const) {
      expect(await execute({ schema, document })).toEqual({ data: { [field]: EXPECTED_LIST } });
    }
    expect(abstractTypesSeen.map((type) => type?.name)).toEqual(['Outcome', 'Outcome', 'Outcome', 'Outcome']);
  });
});

describe(`graphql-jit ${JIT_VERSION}`, () => {
  it('calls resolveType without its fourth argument, the union', () => {
    expect(() => compiled(QUERY).query(undefined, {}, {})).toThrow(TypeError);
    expect(abstractTypesSeen).toEqual([undefined]);
  });

  it('lets the type resolver’s error out of a synchronous execution as an exception, not a field error', () => {
    // graphql-js makes any error of a type resolver an error of that list item: data and errors, never a throw.
    expect(() => compiled(QUERY).query(undefined, {}, {})).toThrow(/Cannot read properties of undefined/);
  });

  it('ends the process when the list comes from an asynchronous resolver: the rejection is never handled', async () => {
    const child = spawnEntry('test/upstream-bugs/graphql-jit-union-list.child.ts', {}, { importTsx: true });
    const { code } = await child.exited();
    // Node's default for an unhandled rejection: print it and exit with status 1. The mutation's promise had not
    // settled by then: graphql-jit awaits a counter of pending promises that this one never decrements.
    expect({ code, stdout: child.stdout() }).toEqual({ code: 1, stdout: '' });
    expect(child.stderr()).toMatch(/TypeError: Cannot read properties of undefined \(reading 'name'\)/);
    expect(child.stderr()).toMatch(/at GraphQLSchema\.getPossibleTypes/);
  });
});
