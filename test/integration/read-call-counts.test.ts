import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

// The budget: a workflow with 50 instances costs 1 list call, plus one details call per instance
// only when a details field is selected, and never more than one call per instance.
const WORKFLOW = 'flaky-import';
const DETAILS = 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}';

let stack: Stack;

const list = (fields: string) => `{ workflow(name: "${WORKFLOW}") { instances(first: 50) { totalCount nodes { instanceId ${fields} } } } }`;

beforeAll(async () => {
  stack = await startStack({ recordUrls: true, config: { finishedInstanceTtlMs: 60_000 } });
  await stack.rest('POST', `/${WORKFLOW}/instances/batch`, Array.from({ length: 50 }, (_, i) => ({ instance_id: `load-${String(i).padStart(2, '0')}`, params: { n: i } })));
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
    const result = await stack.graphql(list('status createdOn modifiedOn startedOn endedOn trigger version { versionId } canPause isTerminal'));
    expect(result.errors).toBeUndefined();
    expect(result.data.workflow.instances.nodes).toHaveLength(50);
    expect(stack.upstreamCalls()).toBe(2); // the workflow lookup and the list
    expect(stack.upstreamCalls({ routeIncludes: '/instances' })).toBe(1);
  });

  it('adds one simple details call per instance for params and output', async () => {
    const result = await stack.graphql(list('status params output success stepCount'));
    expect(result.errors).toBeUndefined();
    const nodes = result.data.workflow.instances.nodes as { instanceId: string; params: unknown }[];
    expect(nodes).toHaveLength(50);
    expect(nodes.filter((n) => n.instanceId.startsWith('load-')).every((n) => typeof (n.params as { n: number }).n === 'number')).toBe(true);
    expect(stack.upstreamCalls({ routeIncludes: '/instances' })).toBe(1 + 50);
    expect(stack.emulator.requests.count({ route: DETAILS })).toBe(50);
    expect(simpleFlags()).toEqual({ simple: 50, full: 0 });
  });

  it('fetches full details once per instance when steps are selected too', async () => {
    const result = await stack.graphql(list('params output steps { __typename name }'));
    expect(result.errors).toBeUndefined();
    expect(stack.upstreamCalls({ routeIncludes: '/instances' })).toBe(1 + 50);
    expect(simpleFlags()).toEqual({ simple: 0, full: 50 });
  });

  it('fetches an instance selected twice in one operation once', async () => {
    const id = 'load-07';
    const { data } = await stack.graphql(`{ instance(workflowName: "${WORKFLOW}", id: "${id}") { id } }`);
    stack.resetCalls();
    const result = await stack.graphql(`query ($id: ID!) {
      a: instance(workflowName: "${WORKFLOW}", id: "${id}") { params }
      b: instance(workflowName: "${WORKFLOW}", id: "${id}") { output steps { name } }
      c: node(id: $id) { ... on WorkflowInstance { params status } }
      d: workflow(name: "${WORKFLOW}") { instance(id: "${id}") { stepCount } }
    }`, { id: data.instance.id });
    expect(result.errors).toBeUndefined();
    expect(result.data.c.params).toEqual({ n: 7 });
    expect(detailsCalls()).toBe(1);
    expect(simpleFlags()).toEqual({ simple: 0, full: 1 });
  });
});

/** Details calls split by `simple=true`, from the recorded upstream URLs. */
function simpleFlags(): { simple: number; full: number } {
  const details = stack.sentUrls.filter((u) => /^GET \/accounts\/[^/]+\/workflows\/[^/]+\/instances\/[^/?]+(\?|$)/.test(u));
  const simple = details.filter((u) => new URLSearchParams(u.split('?')[1] ?? '').get('simple') === 'true').length;
  return { simple, full: details.length - simple };
}
