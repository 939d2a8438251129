import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InstanceListFieldsDocument,
  InstancePageFiltersDocument,
  WorkflowPageDocument,
  WorkflowSearchDocument,
  type InstanceListFieldsQuery,
  type InstanceListFieldsQueryVariables,
  type WorkflowPageQuery,
} from '../generated/operations.js';
import { expectData, expectPresent } from '../helpers/graphql.js';
import { startStack, type Stack } from '../helpers/stack.js';

const WORKFLOW = 'booking-saga';

type Conn = NonNullable<InstanceListFieldsQuery['workflow']>['instances'];
type PageArgs = Partial<Omit<InstanceListFieldsQueryVariables, 'workflowName'>>;

let stack: Stack;
let all: string[];

async function page(variables: PageArgs): Promise<Conn> {
  const data = expectData(await stack.graphql(InstanceListFieldsDocument, { workflowName: WORKFLOW, ...variables }));
  return expectPresent(data.workflow, WORKFLOW).instances;
}

beforeAll(async () => {
  stack = await startStack();
  await stack.rest('POST', `/${WORKFLOW}/instances/batch`, Array.from({ length: 30 }, (_, i) => ({ instance_id: `page-${i}` })));
  const everything = await page({ first: 100 });
  all = everything.edges.map((e) => e.node.instanceId);
  expect(all.length).toBeGreaterThanOrEqual(30);
  expect(everything.totalCount).toBe(all.length);
  expect(everything.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
});
afterAll(() => stack.stop());

describe('instance connection', () => {
  it('pages forwards across upstream page boundaries and ends exactly at the end', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 50; guard++) {
      const conn: Conn = await page({ first: 7, after });
      seen.push(...conn.edges.map((e) => e.node.instanceId));
      expect(conn.pageInfo.hasPreviousPage).toBe(after !== null);
      expect(conn.totalCount).toBe(all.length);
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual(all);
  });

  it('pages backwards from the end to the start', async () => {
    const seen: string[] = [];
    let before: string | null = null;
    for (let guard = 0; guard < 50; guard++) {
      const conn: Conn = await page({ last: 6, before });
      seen.unshift(...conn.edges.map((e) => e.node.instanceId));
      expect(conn.pageInfo.hasNextPage).toBe(before !== null);
      if (!conn.pageInfo.hasPreviousPage) break;
      before = conn.pageInfo.startCursor;
    }
    expect(seen).toEqual(all);
  });

  it('goes back from a forward cursor to the same items', async () => {
    const forward = await page({ first: 11 });
    const next = await page({ first: 9, after: forward.pageInfo.endCursor });
    const back = await page({ last: 11, before: next.pageInfo.startCursor });
    expect(back.edges.map((e) => e.node.instanceId)).toEqual(forward.edges.map((e) => e.node.instanceId));
    expect(back.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true });
  });

  it.each([
    [{ first: 101 }, /`first` must be between 0 and 100/],
    [{ last: 500 }, /`last` must be between 0 and 100/],
    [{ first: 2, last: 2 }, /either `first` or `last`/],
    [{ first: 2, after: 'bm90LWEtY3Vyc29y' }, /not a cursor of this connection/],
  ])('refuses %j with BAD_USER_INPUT and no upstream call', async (variables, message) => {
    stack.resetCalls();
    const result = await stack.graphql(InstanceListFieldsDocument, { workflowName: WORKFLOW, ...variables });
    expect(result.errors?.[0]?.message).toMatch(message);
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(stack.upstreamCalls({ routeIncludes: '/instances' })).toBe(0);
  });

  it('refuses a cursor of another list', async () => {
    const workflows = expectData(await stack.graphql(WorkflowPageDocument, { first: 1 }));
    const after = expectPresent(workflows.workflows.pageInfo.endCursor, 'a workflow cursor');
    const result = await stack.graphql(InstanceListFieldsDocument, { workflowName: WORKFLOW, first: 2, after });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/another list/);
  });

  it('filters by status and creation time', async () => {
    const data = expectData(await stack.graphql(InstancePageFiltersDocument, { workflowName: WORKFLOW }));
    // Created instances start at once and wait in their first sleep; finished demo history is left out.
    const { waiting, future } = expectPresent(data.workflow, WORKFLOW);
    expect(waiting.totalCount).toBeGreaterThanOrEqual(30);
    expect(waiting.totalCount).toBeLessThan(all.length);
    expect(new Set(waiting.nodes.map((n) => n.status))).toEqual(new Set(['WAITING']));
    expect(future).toEqual({ totalCount: 0, nodes: [] });
  });
});

describe('workflow connection', () => {
  it('pages the workflow list one at a time', async () => {
    const names: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 20; guard++) {
      const { workflows }: WorkflowPageQuery = expectData(await stack.graphql(WorkflowPageDocument, { first: 1, after }));
      names.push(...workflows.nodes.map((n) => n.name));
      if (!workflows.pageInfo.hasNextPage) break;
      after = workflows.pageInfo.endCursor;
    }
    expect(names).toEqual(expect.arrayContaining(['order-fulfillment', 'flaky-import', 'nightly-report', 'booking-saga']));
    expect(new Set(names).size).toBe(names.length);
  });

  it('searches by name', async () => {
    const data = expectData(await stack.graphql(WorkflowSearchDocument, { search: 'nightly' }));
    const names = data.workflows.nodes.map((n) => n.name);
    expect(names).toContain('nightly-report');
    expect(names).not.toContain('booking-saga');
  });
});
