import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RequestLogEntry } from '../../src/emulator/request-log.js';
import {
  InstanceCursorPageDocument,
  InstanceListFieldsDocument,
  InstancePageFiltersDocument,
  WorkflowPageDocument,
  WorkflowSearchDocument,
  type InstanceCursorPageQuery,
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
  await stack.rest(
    'POST',
    `/${WORKFLOW}/instances/batch`,
    Array.from({ length: 30 }, (_, i) => ({ instance_id: `page-${i}` })),
  );
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

type CursorConn = NonNullable<InstanceCursorPageQuery['workflow']>['instances'];

/** One forward page of `workflowName`'s instances created at or after `since`, and the list requests it made. */
async function cursorPage(
  workflowName: string,
  since: string,
  variables: { first: number; after?: string | null },
): Promise<{ conn: CursorConn; lists: RequestLogEntry[] }> {
  stack.resetCalls();
  const data = expectData(
    await stack.graphql(InstanceCursorPageDocument, { workflowName, createdAfter: since, ...variables }),
  );
  const lists = stack.emulator.requests.entries.filter(
    (e) => e.method === 'GET' && e.route.endsWith('/{workflow_name}/instances'),
  );
  return { conn: expectPresent(data.workflow, workflowName).instances, lists };
}

const idsOf = (conn: CursorConn | Conn): string[] => conn.edges.map((e) => e.node.instanceId);

/** Creates instances `<prefix>-<i>` for `from <= i < to` in order (so the newest is the last). */
async function create(workflowName: string, prefix: string, from: number, to: number): Promise<void> {
  const body = Array.from({ length: to - from }, (_, i) => ({ instance_id: `${prefix}-${from + i}` }));
  await stack.rest('POST', `/${workflowName}/instances/batch`, body);
}

/**
 * A workflow's list of instances created from now on, and the ids already in it (the demo history is
 * older but for a row or two; the manual clock stands still, so the test's instances come on top of them).
 */
async function freshList(workflowName: string): Promise<{ since: string; existing: string[] }> {
  const since = new Date(stack.emulator.clock.now()).toISOString();
  const { conn } = await cursorPage(workflowName, since, { first: 100 });
  expect(conn.totalCount).toBeLessThanOrEqual(2);
  return { since, existing: idsOf(conn) };
}

/** The same position as a cursor from before upstream cursors were carried (offset only). */
function asOffsetCursor(cursor: string): string {
  const text = Buffer.from(cursor, 'base64url').toString();
  const match = /^v2:([\w-]+):(\d+):/.exec(text);
  if (!match) throw new Error(`not a cursor that carries an upstream cursor: ${text}`);
  return Buffer.from(`v1:${match[1]}:${match[2]}`).toString('base64url');
}

describe('instance connection paging forward by the upstream cursor', () => {
  it('asks for the second and third pages by the upstream cursor and returns every instance exactly once', async () => {
    const { since, existing } = await freshList('order-fulfillment');
    await create('order-fulfillment', 'fwd', 0, 6 - existing.length);

    const first = await cursorPage('order-fulfillment', since, { first: 2 });
    expect(first.lists).toHaveLength(1);
    expect(first.lists[0]?.query).toMatchObject({ page: '1', per_page: '2' });
    expect(first.lists[0]?.query.cursor).toBeUndefined();
    expect(first.conn.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });

    const seen = idsOf(first.conn);
    let after = first.conn.pageInfo.endCursor;
    for (const n of [2, 3]) {
      const { conn, lists } = await cursorPage('order-fulfillment', since, { first: 2, after });
      expect(lists, `page ${n}`).toHaveLength(1);
      expect(lists[0]?.query.cursor, `page ${n}`).toEqual(expect.any(String));
      expect(lists[0]?.query, `page ${n}`).toMatchObject({ per_page: '2', direction: 'desc' });
      expect(lists[0]?.query.page, `page ${n}`).toBeUndefined();
      expect(conn.totalCount).toBe(6);
      expect(conn.pageInfo).toMatchObject({ hasNextPage: n < 3, hasPreviousPage: true });
      seen.push(...idsOf(conn));
      after = conn.pageInfo.endCursor;
    }
    const created = Array.from({ length: 6 - existing.length }, (_, i) => `fwd-${i}`).reverse();
    expect(seen).toEqual([...created, ...existing]);
  });

  it('neither repeats nor skips earlier instances when new ones are created between two pages (the offset path would repeat them)', async () => {
    const { since, existing } = await freshList('nightly-report');
    await create('nightly-report', 'busy', 0, 6);
    const first = await cursorPage('nightly-report', since, { first: 2 });
    expect(idsOf(first.conn)).toEqual(['busy-5', 'busy-4']);
    const endCursor = expectPresent(first.conn.pageInfo.endCursor, 'endCursor');

    await create('nightly-report', 'busy', 6, 9);

    const seen = idsOf(first.conn);
    let after: string | null = endCursor;
    for (let guard = 0; guard < 10 && after !== null; guard++) {
      const { conn }: { conn: CursorConn } = await cursorPage('nightly-report', since, { first: 2, after });
      expect(conn.totalCount).toBe(9 + existing.length);
      seen.push(...idsOf(conn));
      after = conn.pageInfo.hasNextPage ? conn.pageInfo.endCursor : null;
    }
    expect(seen).toEqual(['busy-5', 'busy-4', 'busy-3', 'busy-2', 'busy-1', 'busy-0', ...existing]);

    // The same position as an offset: the three new rows push an already seen one into the next page.
    const byOffset = await cursorPage('nightly-report', since, { first: 2, after: asOffsetCursor(endCursor) });
    expect(byOffset.lists[0]?.query.cursor).toBeUndefined();
    expect(idsOf(byOffset.conn)).toEqual(['busy-6', 'busy-5']);
  });

  it('still pages by offset from a cursor of before (no upstream cursor in it)', async () => {
    const head = await page({ first: 3 });
    const after = asOffsetCursor(expectPresent(head.pageInfo.endCursor, 'endCursor'));
    stack.resetCalls();
    const next = await page({ first: 3, after });
    expect(idsOf(next)).toEqual(all.slice(3, 6));
    expect(next.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: true });
    const lists = stack.emulator.requests.entries.filter((e) => e.route.endsWith('/{workflow_name}/instances'));
    expect(lists.map((e) => e.query.cursor)).toEqual([undefined]);
  });

  it('pages by offset from a cursor of an edge that is not the last of its page', async () => {
    const head = await page({ first: 4 });
    stack.resetCalls();
    const next = await page({ first: 3, after: head.edges[1]?.cursor });
    expect(idsOf(next)).toEqual(all.slice(2, 5));
    const lists = stack.emulator.requests.entries.filter((e) => e.route.endsWith('/{workflow_name}/instances'));
    expect(lists.map((e) => e.query.cursor)).toEqual([undefined]);
  });

  it('goes back from an endCursor that carries an upstream cursor by its offset', async () => {
    const forward = await page({ first: 5 });
    const next = await page({ first: 5, after: forward.pageInfo.endCursor });
    const back = await page({ last: 5, before: next.pageInfo.startCursor });
    expect(idsOf(back)).toEqual(all.slice(0, 5));
    const again = await page({ last: 2, before: forward.pageInfo.endCursor });
    expect(idsOf(again)).toEqual(all.slice(2, 4));
  });

  it('refuses an endCursor carrying an upstream cursor for another workflow or other filters', async () => {
    const head = await page({ first: 2 });
    const after = expectPresent(head.pageInfo.endCursor, 'endCursor');
    for (const variables of [
      { workflowName: 'order-fulfillment' },
      { workflowName: WORKFLOW, createdAfter: '2000-01-01T00:00:00Z' },
    ]) {
      const result = await stack.graphql(InstanceCursorPageDocument, { first: 2, after, ...variables });
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(result.errors?.[0]?.message).toMatch(/another list/);
    }
  });

  it('refuses an upstream cursor the Workflows API did not issue with BAD_USER_INPUT', async () => {
    const head = await page({ first: 2 });
    const text = Buffer.from(expectPresent(head.pageInfo.endCursor, 'endCursor'), 'base64url').toString();
    const forged = Buffer.from(text.replace(/^(v2:[\w-]+:\d+:).*$/, '$1forged')).toString('base64url');
    const result = await stack.graphql(InstanceListFieldsDocument, { workflowName: WORKFLOW, first: 2, after: forged });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toMatch(/cursor/);
  });
});

describe('workflow connection', () => {
  it('pages the workflow list one at a time', async () => {
    const names: string[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 20; guard++) {
      const { workflows }: WorkflowPageQuery = expectData(
        await stack.graphql(WorkflowPageDocument, { first: 1, after }),
      );
      names.push(...workflows.nodes.map((n) => n.name));
      if (!workflows.pageInfo.hasNextPage) break;
      after = workflows.pageInfo.endCursor;
    }
    expect(names).toEqual(
      expect.arrayContaining(['order-fulfillment', 'flaky-import', 'nightly-report', 'booking-saga']),
    );
    expect(new Set(names).size).toBe(names.length);
  });

  it('searches by name', async () => {
    const data = expectData(await stack.graphql(WorkflowSearchDocument, { search: 'nightly' }));
    const names = data.workflows.nodes.map((n) => n.name);
    expect(names).toContain('nightly-report');
    expect(names).not.toContain('booking-saga');
  });
});
