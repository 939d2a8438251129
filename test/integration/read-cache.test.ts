import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

const DETAILS = 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}';
const STEP = 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}/step';

let stack: Stack;
// Demo instances (fixed names, see the emulator's seed): one complete, one errored, one waiting for an event.
const finishedId = 'order-1001';
const otherFinishedId = 'order-1002';
const runningId = 'order-1004';

beforeAll(async () => {
  // A long TTL: the test must not depend on how fast it runs.
  stack = await startStack({ config: { finishedInstanceTtlMs: 600_000 } });
});
afterAll(() => stack.stop());
beforeEach(() => stack.resetCalls());

const details = (id: string, fields = 'status params output') =>
  stack.graphql(`query ($id: String!) { instance(workflowName: "order-fulfillment", id: $id) { ${fields} } }`, { id });

describe('finished-instance cache', () => {
  it('serves a finished instance from the cache on later requests', async () => {
    const first = await details(finishedId);
    const second = await details(finishedId);
    expect(second).toEqual(first);
    expect(first.data.instance.status).toBe('COMPLETE');
    expect(first.data.instance.output).not.toBeNull();
    expect(stack.emulator.requests.count({ route: DETAILS })).toBe(1);
  });

  it('does not cache instances that can still change', async () => {
    await details(runningId);
    await details(runningId);
    expect(stack.emulator.requests.count({ route: DETAILS })).toBe(2);
  });

  it('answers simple requests from cached full details, but not the reverse', async () => {
    await details(otherFinishedId, 'params'); // caches simple details
    await details(otherFinishedId, 'steps { name }'); // simple details cannot answer steps: one full fetch
    await details(otherFinishedId, 'params stepCount'); // answered by the cached full details
    expect(stack.emulator.requests.count({ route: DETAILS })).toBe(2);
  });

  it('is invalidated by the restart mutation', async () => {
    await details(finishedId);
    stack.resetCalls();
    const restart = await stack.graphql(`mutation ($id: String!) { restartInstance(input: { workflowName: "order-fulfillment", instanceId: $id }) { __typename } }`, { id: finishedId });
    expect(restart.errors).toBeUndefined();
    stack.resetCalls();
    const after = await details(finishedId, 'status isTerminal');
    expect(after.errors).toBeUndefined();
    expect(after.data.instance.isTerminal).toBe(false);
    expect(stack.emulator.requests.count({ route: DETAILS })).toBe(1);
  });
});

describe('step outputs', () => {
  it('calls the step endpoint only for selected outputs, once per step and operation', async () => {
    const id = otherFinishedId;
    const previews = await details(id, 'steps { name ... on DoStep { outputPreview } }');
    expect(previews.errors).toBeUndefined();
    expect(stack.emulator.requests.count({ route: STEP })).toBe(0);

    const doSteps = previews.data.instance.steps.filter((s: { outputPreview?: string }) => 'outputPreview' in s).length;
    const full = await details(id, 'a: steps { ... on DoStep { output } } b: steps(order: DESC) { ... on DoStep { output } }');
    expect(full.errors).toBeUndefined();
    expect(stack.emulator.requests.count({ route: STEP })).toBe(doSteps);
  });
});
