import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  InstanceGlobalIdDocument,
  InstancePageFullDetailsDocument,
  InstancePageListFieldsDocument,
  InstancePageSimpleDetailsDocument,
  InstanceSelectedFourWaysDocument,
  WorkflowAndInstancesDocument,
  WorkflowInstanceCountDocument,
  WorkflowNameDocument,
} from '../generated/operations.js';
import { expectData, expectPresent } from '../helpers/graphql.js';
import { startStack, type Stack } from '../helpers/stack.js';

// The budget: a workflow with 50 instances costs 1 list call (list fields only), plus one details
// call per instance only when a details field is selected (simple for params/output, full with steps), and
// never more than one call per instance. `workflow(name)` adds no call of its own unless its fields need it.
const WORKFLOW = 'flaky-import';
const DETAILS = 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}';

let stack: Stack;

const PAGE = { workflowName: WORKFLOW, first: 50 };

beforeAll(async () => {
  stack = await startStack({ recordUrls: true, config: { finishedInstanceTtlMs: 60_000 } });
  await stack.rest(
    'POST',
    `/${WORKFLOW}/instances/batch`,
    Array.from({ length: 50 }, (_, i) => ({ instance_id: `load-${String(i).padStart(2, '0')}`, params: { n: i } })),
  );
});
afterAll(() => stack.stop());
beforeEach(() => stack.resetCalls());

function detailsCalls(): number {
  return stack.upstreamCalls({ method: 'GET', routeIncludes: '/instances/{instance_id}' }) - stepCalls();
}
function stepCalls(): number {
  return stack.upstreamCalls({ method: 'GET', routeIncludes: '/instances/{instance_id}/step' });
}

describe('upstream calls of instance lists', () => {
  it('answers list fields from the list call alone', async () => {
    const data = expectData(await stack.graphql(InstancePageListFieldsDocument, PAGE));
    expect(data.workflow?.instances.nodes).toHaveLength(50);
    expect(stack.upstreamCalls()).toBe(1);
    expect(stack.upstreamCalls({ routeIncludes: '/instances' })).toBe(1);
  });

  it('adds one simple details call per instance for params and output', async () => {
    const nodes =
      expectData(await stack.graphql(InstancePageSimpleDetailsDocument, PAGE)).workflow?.instances.nodes ?? [];
    expect(nodes).toHaveLength(50);
    expect(
      nodes
        .filter((n) => n.instanceId.startsWith('load-'))
        .every((n) => typeof (n.params as { n: number }).n === 'number'),
    ).toBe(true);
    expect(stack.upstreamCalls()).toBe(1 + 50);
    expect(stack.emulator.requests.count({ route: DETAILS })).toBe(50);
    expect(simpleFlags()).toEqual({ simple: 50, full: 0 });
  });

  it('fetches full details once per instance when steps are selected too', async () => {
    const data = expectData(await stack.graphql(InstancePageFullDetailsDocument, PAGE));
    expect(data.workflow?.instances.nodes).toHaveLength(50);
    expect(stack.upstreamCalls()).toBe(1 + 50);
    expect(simpleFlags()).toEqual({ simple: 0, full: 50 });
  });

  it('fetches an instance selected twice in one operation once', async () => {
    const id = 'load-07';
    const nodeId = expectPresent(
      expectData(await stack.graphql(InstanceGlobalIdDocument, { workflowName: WORKFLOW, id })).instance,
      id,
    ).id;
    stack.resetCalls();
    const data = expectData(
      await stack.graphql(InstanceSelectedFourWaysDocument, { workflowName: WORKFLOW, id, nodeId }),
    );
    // Not narrowed by `__typename`: the document does not select it, whatever the generated type claims.
    expect(data.c).toEqual({ params: { n: 7 }, status: expect.any(String) });
    expect(detailsCalls()).toBe(1);
    expect(simpleFlags()).toEqual({ simple: 0, full: 1 });
  });
});

describe('upstream calls of an instance lookup', () => {
  it('fetches the step log in the same request only when steps are selected and not skipped', async () => {
    const query = (skip: boolean) =>
      `{ instance(workflowName: "${WORKFLOW}", instanceId: "load-03") { params steps @skip(if: ${skip}) { type } } }`;
    expect((await stack.graphql(query(true))).errors).toBeUndefined();
    expect(simpleFlags()).toEqual({ simple: 1, full: 0 });
    stack.resetCalls();
    expect((await stack.graphql(query(false))).errors).toBeUndefined();
    expect(simpleFlags()).toEqual({ simple: 0, full: 1 });
  });
});

describe('upstream calls of a workflow lookup', () => {
  it('fetches the workflow record for its own fields, beside the instance list', async () => {
    const data = expectData(await stack.graphql(WorkflowAndInstancesDocument, { name: WORKFLOW }));
    expect(data.workflow).toEqual({
      name: WORKFLOW,
      className: expect.any(String),
      instances: { totalCount: expect.any(Number) },
    });
    expect(stack.upstreamCalls()).toBe(2);
    expect(stack.upstreamCalls({ routeIncludes: '/instances' })).toBe(1);
  });

  it('fetches the workflow record when nothing else can tell that the workflow exists', async () => {
    expect(expectData(await stack.graphql(WorkflowNameDocument, { name: WORKFLOW })).workflow).toEqual({
      name: WORKFLOW,
    });
    expect(stack.upstreamCalls()).toBe(1);
    expect(stack.upstreamCalls({ routeIncludes: '/instances' })).toBe(0);
  });

  it('answers null without errors for an unknown workflow asked only for its instances, from the list call alone', async () => {
    const result = await stack.graphql(WorkflowInstanceCountDocument, { name: 'no-such-workflow' });
    expect(result).toEqual({ data: { workflow: null } });
    expect(stack.upstreamCalls()).toBe(1);
  });

  it('asks for the workflow record when the only connection has refused arguments', async () => {
    const query = (name: string): string => `{ workflow(name: "${name}") { instances(first: 500) { totalCount } } }`;
    expect(await stack.graphql(query('no-such-workflow'))).toEqual({ data: { workflow: null } });
    expect(stack.upstreamCalls()).toBe(1);
    const known = await stack.graphql(query(WORKFLOW));
    expect(known.data).toEqual({ workflow: null });
    expect(known.errors).toEqual([
      expect.objectContaining({
        path: ['workflow', 'instances'],
        extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }),
      }),
    ]);
    expect(stack.upstreamCalls()).toBe(2);
  });

  it('answers null without errors for an unknown workflow asked for its versions, latest version and an instance', async () => {
    const result = await stack.graphql(
      '{ workflow(name: "no-such-workflow") { name latestVersion { versionId } versions { totalCount } instance(instanceId: "x") { status } } }',
    );
    expect(result).toEqual({ data: { workflow: null } });
    expect(stack.upstreamCalls({ routeIncludes: '/workflows/{workflow_name}' })).toBe(3);
  });
});

/** Details calls split by `simple=true`, from the recorded upstream URLs. */
function simpleFlags(): { simple: number; full: number } {
  const details = stack.sentUrls.filter((u) =>
    /^GET \/accounts\/[^/]+\/workflows\/[^/]+\/instances\/[^/?]+(\?|$)/.test(u),
  );
  const simple = details.filter((u) => new URLSearchParams(u.split('?')[1] ?? '').get('simple') === 'true').length;
  return { simple, full: details.length - simple };
}
