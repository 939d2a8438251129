import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

const NODES = 'query Nodes($ids: [ID!]!) { nodes(ids: $ids) { id } }';
const workflowId = (name: string): string => Buffer.from(`Workflow:${name}`).toString('base64');

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

describe('global ids naming a type that is not a Node', () => {
  // Pothos threw uncoded errors for these ("Foo has not been implemented", "Query does not support loading by
  // id"), which nulled the whole answer.
  const foreign = ['Foo:bar', 'Query:x', 'Node:x', 'WorkflowStep:x', 'String:x', '__proto__:x', 'constructor:x'];

  it.each(foreign)('refuses %s with BAD_USER_INPUT in node and nodes, and asks upstream nothing', async (raw) => {
    stack.resetCalls();
    const id = Buffer.from(raw).toString('base64');
    const result = await stack.graphql<{ node: unknown; nodes: unknown[] | null }>(
      'query ($id: ID!) { node(id: $id) { id } nodes(ids: [$id]) { id } }',
      { id },
    );
    expect(result.errors?.map((e) => [e.path?.join('.'), e.extensions?.['code'], e.message])).toEqual([
      ['node', 'BAD_USER_INPUT', `Invalid global ID: ${id}`],
      ['nodes', 'BAD_USER_INPUT', `Invalid global ID: ${id}`],
    ]);
    expect(stack.upstreamCalls()).toBe(0);
  });
});

describe('version ids', () => {
  it.each(['', 'not-a-uuid', 'a'.repeat(5_000)])(
    'refuses WorkflowVersion:order-fulfillment/%s with BAD_USER_INPUT and asks upstream nothing',
    async (versionId) => {
      stack.resetCalls();
      const id = Buffer.from(`WorkflowVersion:order-fulfillment/${versionId}`).toString('base64');
      const result = await stack.graphql('query ($id: ID!) { node(id: $id) { id } }', { id });
      expect(
        result.errors?.map((e) => [e.path?.join('.'), e.extensions?.['code'], e.extensions?.['argument']]),
      ).toEqual([['node', 'BAD_USER_INPUT', 'id']]);
      expect(stack.upstreamCalls()).toBe(0);
    },
  );
});

describe('nodes(ids:)', () => {
  it('serves 100 ids, as many as a page holds', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => workflowId(`missing-${i}`));
    const result = await stack.graphql<{ nodes: unknown[] }>(NODES, { ids });
    expect(result.errors).toBeUndefined();
    expect(result.data?.nodes).toHaveLength(100);
  });

  it('refuses 101 ids with BAD_USER_INPUT and asks upstream nothing', async () => {
    stack.resetCalls();
    const ids = Array.from({ length: 101 }, (_, i) => workflowId(`w-${i}`));
    const result = await stack.graphql(NODES, { ids });
    expect(result.data).toBeNull();
    expect(result.errors).toEqual([
      expect.objectContaining({
        message: '`ids` may hold at most 100 ids (got 101).',
        extensions: { code: 'BAD_USER_INPUT', argument: 'ids' },
      }),
    ]);
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('refuses the reproduction of issue 12, 300,000 malformed ids, by their count', async () => {
    const ids = Array.from({ length: 300_000 }, (_, i) => `not-a-global-id-${i}`);
    const result = await stack.graphql(NODES, { ids });
    // So long a list is refused before coercion (src/transport/request-errors.ts), shorter ones by `nodes` itself.
    expect(result.errors?.[0]?.message).toMatch(/^\$ids holds more than \d+ items/);
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT' });
    expect(await stack.graphql('{ __typename }')).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses a list at its first malformed id, without asking upstream about the ids before it', async () => {
    stack.resetCalls();
    const ids = [workflowId('order-fulfillment'), 'malformed-1', 'malformed-2'];
    const result = await stack.graphql(NODES, { ids });
    expect(result.errors).toEqual([
      expect.objectContaining({ message: 'Invalid global ID: malformed-1', extensions: { code: 'BAD_USER_INPUT' } }),
    ]);
    expect(stack.upstreamCalls()).toBe(0);
  });
});
