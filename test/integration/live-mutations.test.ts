import { describe, expect, it } from 'vitest';
import {
  InstanceStatusChangedDocument as STATUS,
  WorkflowInstancesChangedDocument as WORKFLOW_CHANGES,
  WritePauseInstanceDocument as PAUSE,
  WriteTerminateInstanceDocument as TERMINATE,
} from '../generated/operations.js';
import { expectData, expectTypename } from '../helpers/graphql.js';
import { createInstance } from '../helpers/instances.js';
import { subscribe, valuesOf, wsClient } from '../helpers/live.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// Issue #5 / #6: after a mutation through this server, live subscribers get the change at once, not at the next poll.
const WORKFLOW = 'order-fulfillment';
/** Ten minutes between polls: no poll after the first can explain an event these tests wait for. */
const POLL_MS = 600_000;
/** How long a test waits for the pushed event: far below the poll interval. */
const PUSH_DEADLINE_MS = 5_000;
/** Every read of instances: lists, details and steps. */
const INSTANCE_READS = { method: 'GET', routeIncludes: '/instances' };
const LIST_READS = { method: 'GET', route: 'GET /accounts/{account_id}/workflows/{workflow_name}/instances' };

async function liveStack(): Promise<Stack> {
  return startStack({ listen: true, config: { pollIntervalMs: POLL_MS } });
}

describe('live subscribers after a mutation', () => {
  it('hears of a pauseInstance at once on instanceStatusChanged, with a bounded number of upstream reads', async () => {
    const stack = await liveStack();
    await createInstance(stack, WORKFLOW, 'push-pause-1');
    const sub = subscribe(wsClient(stack), STATUS, { workflowName: WORKFLOW, instanceId: 'push-pause-1' });
    await waitFor(() => sub.results.length > 0, { message: 'the first status event' });
    const statuses = () => valuesOf(sub.results, (d) => d.instanceStatusChanged?.status ?? 'null');
    // A new instance sleeps through its cool-off on the emulator's manual clock: it stays WAITING until the pause.
    expect(statuses()).toEqual(['WAITING']);
    stack.resetCalls();
    const loopRequests = stack.app.live.stats().requests;

    const paused = expectTypename(
      expectData(await stack.graphql(PAUSE, { input: { workflowName: WORKFLOW, instanceId: 'push-pause-1' } }))
        .pauseInstance,
      'PauseInstancePayload',
    );
    expect(paused.instance?.status).toBe('PAUSED');
    await waitFor(() => sub.results.length > 1, { message: 'the PAUSED event', timeoutMs: PUSH_DEADLINE_MS });

    expect(statuses()).toEqual(['WAITING', 'PAUSED']);
    expect(sub.results[1]?.data?.instanceStatusChanged).toMatchObject({
      previousStatus: 'WAITING',
      instance: { instanceId: 'push-pause-1' },
    });
    expect(sub.done).toBe(false);
    // The loop polled once for the mutation (not once per subscriber or per poll tick), and upstream saw at most
    // that poll plus the mutation's own read of the instance it answers.
    expect(stack.app.live.stats().requests - loopRequests).toBe(1);
    expect(stack.upstreamCalls(INSTANCE_READS)).toBeGreaterThanOrEqual(1);
    expect(stack.upstreamCalls(INSTANCE_READS)).toBeLessThanOrEqual(2);
  });

  it('hears of a terminateInstance at once on instanceStatusChanged, and the subscription completes', async () => {
    const stack = await liveStack();
    await createInstance(stack, WORKFLOW, 'push-terminate-1');
    const sub = subscribe(wsClient(stack), STATUS, { workflowName: WORKFLOW, instanceId: 'push-terminate-1' });
    await waitFor(() => sub.results.length > 0, { message: 'the first status event' });
    stack.resetCalls();

    const terminated = expectData(
      await stack.graphql(TERMINATE, { input: { workflowName: WORKFLOW, instanceId: 'push-terminate-1' } }),
    );
    expectTypename(terminated.terminateInstance, 'TerminateInstancePayload');
    await waitFor(() => sub.done, { message: 'the TERMINATED event and completion', timeoutMs: PUSH_DEADLINE_MS });

    expect(sub.error).toBeUndefined();
    expect(valuesOf(sub.results, (d) => d.instanceStatusChanged?.status ?? 'null')).toEqual(['WAITING', 'TERMINATED']);
    expect(stack.upstreamCalls(INSTANCE_READS)).toBeLessThanOrEqual(2);
    expect(stack.app.live.stats()).toMatchObject({ loops: 0, subscribers: 0 });
  });

  it('hears of a createInstance at once on workflowInstancesChanged, with a bounded number of upstream reads', async () => {
    const stack = await liveStack();
    const sub = subscribe(wsClient(stack), WORKFLOW_CHANGES, { workflowName: WORKFLOW });
    // The first cycle lists the workflow's instances as the baseline and reports nothing. Once the emulator has
    // answered that list, an instance created later cannot be part of the baseline.
    await waitFor(() => stack.upstreamCalls(LIST_READS) > 0, { message: 'the baseline list' });
    expect(sub.results).toEqual([]);
    stack.resetCalls();
    const loopRequests = stack.app.live.stats().requests;

    await createInstance(stack, WORKFLOW, 'push-create-1');
    await waitFor(() => sub.results.length > 0, { message: 'the new instance event', timeoutMs: PUSH_DEADLINE_MS });

    expect(sub.results).toEqual([
      {
        data: {
          workflowInstancesChanged: {
            status: expect.any(String),
            previousStatus: null,
            instance: { instanceId: 'push-create-1' },
          },
        },
      },
    ]);
    // One list read for the create (the mutation's create and its own read of the instance come on top).
    expect(stack.app.live.stats().requests - loopRequests).toBe(1);
    expect(stack.upstreamCalls(LIST_READS)).toBe(1);
    expect(stack.upstreamCalls(INSTANCE_READS)).toBeLessThanOrEqual(2);
  });
});
