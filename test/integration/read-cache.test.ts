import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CachedInstanceOutcomeDocument,
  CachedInstanceParamsDocument,
  CachedInstanceStepCountDocument,
  CachedInstanceStepNamesDocument,
  CachedInstanceTerminalDocument,
  CacheRestartInstanceDocument,
  InstanceStepOutputsTwiceDocument,
  InstanceStepPreviewsDocument,
} from '../generated/operations.js';
import { expectData } from '../helpers/graphql.js';
import { startStack, type Stack } from '../helpers/stack.js';

const DETAILS = 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}';
const STEP = 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}/step';

let stack: Stack;
// Demo instances (fixed names, see the emulator's seed): one complete, one errored, one waiting for an event.
const WF = 'order-fulfillment';
const finishedId = 'order-1001';
const otherFinishedId = 'order-1002';
const runningId = 'order-1004';

beforeAll(async () => {
  // A long TTL: the test must not depend on how fast it runs.
  stack = await startStack({ config: { finishedInstanceTtlMs: 600_000 } });
});
afterAll(() => stack.stop());
beforeEach(() => stack.resetCalls());

describe('finished-instance cache', () => {
  it('serves a finished instance from the cache on later requests', async () => {
    const first = await stack.graphql(CachedInstanceOutcomeDocument, { workflowName: WF, id: finishedId });
    const second = await stack.graphql(CachedInstanceOutcomeDocument, { workflowName: WF, id: finishedId });
    expect(second).toEqual(first);
    expect(expectData(first).instance?.status).toBe('COMPLETE');
    expect(expectData(first).instance?.output).not.toBeNull();
    expect(stack.emulator.requests.count({ route: DETAILS })).toBe(1);
  });

  it('does not cache instances that can still change', async () => {
    expectData(await stack.graphql(CachedInstanceOutcomeDocument, { workflowName: WF, id: runningId }));
    expectData(await stack.graphql(CachedInstanceOutcomeDocument, { workflowName: WF, id: runningId }));
    expect(stack.emulator.requests.count({ route: DETAILS })).toBe(2);
  });

  it('answers simple requests from cached full details, but not the reverse', async () => {
    const id = otherFinishedId;
    expectData(await stack.graphql(CachedInstanceParamsDocument, { workflowName: WF, id })); // caches simple details
    expectData(await stack.graphql(CachedInstanceStepNamesDocument, { workflowName: WF, id })); // simple details cannot answer steps: one full fetch
    expectData(await stack.graphql(CachedInstanceStepCountDocument, { workflowName: WF, id })); // answered by the cached full details
    expect(stack.emulator.requests.count({ route: DETAILS })).toBe(2);
  });

  it('is invalidated by the restart mutation', async () => {
    expectData(await stack.graphql(CachedInstanceOutcomeDocument, { workflowName: WF, id: finishedId }));
    stack.resetCalls();
    const restart = await stack.graphql(CacheRestartInstanceDocument, {
      input: { workflowName: WF, instanceId: finishedId },
    });
    expect(expectData(restart).restartInstance.__typename).toBe('RestartInstancePayload');
    stack.resetCalls();
    const after = expectData(await stack.graphql(CachedInstanceTerminalDocument, { workflowName: WF, id: finishedId }));
    expect(after.instance?.isTerminal).toBe(false);
    expect(stack.emulator.requests.count({ route: DETAILS })).toBe(1);
  });
});

describe('step outputs', () => {
  it('calls the step endpoint only for selected outputs, once per step and operation', async () => {
    const id = otherFinishedId;
    const previews = expectData(await stack.graphql(InstanceStepPreviewsDocument, { workflowName: WF, id }));
    expect(stack.emulator.requests.count({ route: STEP })).toBe(0);

    const doSteps = previews.instance?.steps.filter((s) => 'outputPreview' in s).length;
    expect(doSteps).toBeGreaterThan(0);
    expectData(await stack.graphql(InstanceStepOutputsTwiceDocument, { workflowName: WF, id }));
    expect(stack.emulator.requests.count({ route: STEP })).toBe(doSteps);
  });
});
