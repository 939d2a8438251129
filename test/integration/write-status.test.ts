import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InstanceStatus } from '../../src/upstream/types.js';
import {
  WritePauseInstanceDocument as PAUSE,
  WriteReadInstanceDocument as READ,
  WriteRestartInstanceDocument as RESTART,
  WriteResumeInstanceDocument as RESUME,
  WriteSendInstanceEventDocument as SEND_EVENT,
  WriteTerminateInstanceDocument as TERMINATE,
  WriteTerminateThenPauseDocument,
  type PauseInstanceInput,
  type RestartInstanceInput,
  type ResumeInstanceInput,
  type SendInstanceEventInput,
  type TerminateInstanceInput,
} from '../generated/operations.js';
import { expectData, expectPresent, expectTypename } from '../helpers/graphql.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { approvePayment, createInstance, freshId } from '../helpers/instances.js';

const WF = 'order-fulfillment';
const STATUS_ROUTE = 'PATCH /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}/status';

describe('status changes and events', () => {
  let stack: Stack;
  beforeAll(async () => {
    // No cross-request cache of finished instances: "known status" then only comes from the same operation.
    stack = await startStack({ config: { upstream: { maxRetries: 0 }, finishedInstanceTtlMs: 0 } });
  });
  afterAll(() => stack.stop());
  beforeEach(() => stack.resetCalls());

  const statusOf = (id: string, statuses: InstanceStatus | InstanceStatus[]) =>
    stack.emulator.engine.waitForStatus(stack.config.upstream.accountId, WF, id, statuses, { timeoutMs: 5000 });

  const read = async (id: string) =>
    expectPresent(expectData(await stack.graphql(READ, { workflowName: WF, id })).instance, `instance ${id}`);
  const pause = async (input: PauseInstanceInput) => expectData(await stack.graphql(PAUSE, { input })).pauseInstance;
  const resume = async (input: ResumeInstanceInput) =>
    expectData(await stack.graphql(RESUME, { input })).resumeInstance;
  const terminate = async (input: TerminateInstanceInput) =>
    expectData(await stack.graphql(TERMINATE, { input })).terminateInstance;
  const restart = async (input: RestartInstanceInput) =>
    expectData(await stack.graphql(RESTART, { input })).restartInstance;
  const sendEvent = async (input: SendInstanceEventInput) =>
    expectData(await stack.graphql(SEND_EVENT, { input })).sendInstanceEvent;

  /** An order that has passed its cool-off and waits for the `payment-approved` event. */
  async function awaitingApproval(prefix: string): Promise<string> {
    const id = freshId(prefix);
    await createInstance(stack, WF, id, { orderId: id });
    await stack.emulator.clock.advance(61_000);
    expect((await read(id)).steps.at(-1)).toMatchObject({ type: 'WAIT_FOR_EVENT', finished: false });
    stack.resetCalls();
    return id;
  }

  it('pauses a waiting instance and resumes it, answering the new state and the upstream timestamp', async () => {
    const id = await awaitingApproval('pause');
    const paused = expectTypename(await pause({ workflowName: WF, instanceId: id }), 'PauseInstancePayload');
    expect(paused.instance?.instanceId).toBe(id);
    expect(['PAUSED', 'WAITING_FOR_PAUSE']).toContain(paused.status);
    expect(['PAUSED', 'WAITING_FOR_PAUSE']).toContain(paused.instance?.status);
    expect(new Date(paused.timestamp).toISOString()).toBe(paused.timestamp);
    await statusOf(id, 'paused');

    const resumed = expectTypename(await resume({ workflowName: WF, instanceId: id }), 'ResumeInstancePayload');
    expect(resumed.instance?.instanceId).toBe(id);
    expect(expectPresent(resumed.instance, 'the resumed instance').status).not.toBe('PAUSED');
    expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(2);
  });

  it('terminates an instance', async () => {
    const id = await awaitingApproval('terminate');
    expect(await terminate({ workflowName: WF, instanceId: id, rollback: false })).toMatchObject({
      __typename: 'TerminateInstancePayload',
      instance: { instanceId: id, status: 'TERMINATED' },
      timestamp: expect.any(String),
    });
  });

  it('refuses a change the state machine forbids from a status known in the operation, without calling upstream', async () => {
    const id = await awaitingApproval('known');
    const data = expectData(
      await stack.graphql(WriteTerminateThenPauseDocument, {
        t: { workflowName: WF, instanceId: id },
        p: { workflowName: WF, instanceId: id },
      }),
    );
    expect(data.t).toEqual({ instance: { status: 'TERMINATED' } });
    expect(data.p).toMatchObject({
      __typename: 'InvalidTransitionError',
      currentStatus: 'TERMINATED',
      action: 'PAUSE',
    });
    // One PATCH for the terminate; the pause was refused before any call.
    expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(1);
  });

  it('maps the upstream refusal of a change to InvalidTransitionError with the status fetched afterwards', async () => {
    const id = await awaitingApproval('refused');
    expectTypename(await terminate({ workflowName: WF, instanceId: id }), 'TerminateInstancePayload');
    stack.resetCalls();
    // A new operation: nothing is known, so the gateway asks upstream, which refuses.
    expect(await terminate({ workflowName: WF, instanceId: id })).toMatchObject({
      __typename: 'InvalidTransitionError',
      currentStatus: 'TERMINATED',
      action: 'TERMINATE',
      message: expect.stringContaining('fetched after the refusal'),
    });
    expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(1);
  });

  it('returns InstanceNotFoundError and WorkflowNotFoundError for unknown targets', async () => {
    expect(await pause({ workflowName: WF, instanceId: 'no-such-instance' })).toMatchObject({
      __typename: 'InstanceNotFoundError',
      instanceId: 'no-such-instance',
    });
    expect(
      await sendEvent({ workflowName: 'no-such-workflow', instanceId: 'x', type: 'payment-approved' }),
    ).toMatchObject({
      __typename: 'WorkflowNotFoundError',
      workflowName: 'no-such-workflow',
    });
  });

  it('refuses an event to a finished instance with InvalidTransitionError (SEND_EVENT), reading its status once', async () => {
    const id = await awaitingApproval('event-finished');
    expect(
      await sendEvent({ workflowName: WF, instanceId: id, type: 'payment-approved', payload: { approved: true } }),
    ).toMatchObject({ __typename: 'SendInstanceEventPayload' });
    await statusOf(id, 'complete');
    stack.resetCalls();
    expect(await sendEvent({ workflowName: WF, instanceId: id, type: 'payment-approved' })).toMatchObject({
      __typename: 'InvalidTransitionError',
      action: 'SEND_EVENT',
      currentStatus: 'COMPLETE',
    });
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(1);
  });

  it('releases a waiting order-fulfillment instance with a payment-approved event', async () => {
    const id = await awaitingApproval('event');
    const result = await sendEvent({
      workflowName: WF,
      instanceId: id,
      type: 'payment-approved',
      payload: { approved: true },
    });
    expect(result).toMatchObject({
      __typename: 'SendInstanceEventPayload',
      instance: { instanceId: id },
      timestamp: expect.any(String),
    });
    await statusOf(id, 'complete');
    const instance = await read(id);
    expect(instance).toMatchObject({ status: 'COMPLETE', output: { orderId: id, status: 'shipped' } });
    const wait = instance.steps.find((s) => s.type === 'WAIT_FOR_EVENT');
    expect(wait).toMatchObject({ finished: true, payload: { approved: true } });
  });

  it('delivers the payload as the JSON value given: a string "true" is not an approval', async () => {
    const id = await awaitingApproval('event-string');
    const result = await sendEvent({
      workflowName: WF,
      instanceId: id,
      type: 'payment-approved',
      payload: { approved: 'true' },
    });
    expectTypename(result, 'SendInstanceEventPayload');
    expect(await statusOf(id, ['complete', 'errored'])).toBe('errored');
  });

  it('restarts an instance from a named step, keeping the steps before it', async () => {
    const id = await awaitingApproval('restart');
    await approvePayment(stack, id);
    await statusOf(id, 'complete');
    expect((await read(id)).steps.flatMap((s) => ('name' in s ? [s.name] : []))).toContain('ship-order-1');

    const result = await restart({
      workflowName: WF,
      instanceId: id,
      from: { stepName: 'await-payment-approval', type: 'WAIT_FOR_EVENT' },
    });
    expect(result).toMatchObject({ __typename: 'RestartInstancePayload', instance: { instanceId: id } });
    await statusOf(id, ['waiting', 'running']);
    const after = await read(id);
    // Steps before the target are kept; the wait runs again and nothing after it has run yet.
    expect(after.steps.flatMap((s) => ('name' in s ? [s.name] : []))).toEqual([
      'validate-order-1',
      'reserve-inventory-1',
      'charge-card-1',
      'cool-off-1',
      'await-payment-approval-1',
    ]);
    expect(after.steps.at(-1)).toMatchObject({ type: 'WAIT_FOR_EVENT', finished: false });
  });

  it('restarts an instance from scratch', async () => {
    const id = await awaitingApproval('restart-all');
    expectTypename(await restart({ workflowName: WF, instanceId: id }), 'RestartInstancePayload');
    expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(1);
  });

  it('returns RateLimitedError when upstream answers a status change with 429', async () => {
    const own = await startStack({ config: { upstream: { maxRetries: 0 } } });
    try {
      own.emulator.faults.set({ route: STATUS_ROUTE, rateLimitRate: 1 });
      const data = expectData(await own.graphql(PAUSE, { input: { workflowName: WF, instanceId: 'any-instance' } }));
      expect(data.pauseInstance).toMatchObject({ __typename: 'RateLimitedError', retryAfter: expect.any(Number) });
    } finally {
      await own.stop();
    }
  });

  it('returns UpstreamError when upstream fails a status change', async () => {
    const own = await startStack({ config: { upstream: { maxRetries: 0 } } });
    try {
      own.emulator.faults.set({ route: STATUS_ROUTE, errorRate: 1 });
      const data = expectData(await own.graphql(RESUME, { input: { workflowName: WF, instanceId: 'any-instance' } }));
      expect(data.resumeInstance).toMatchObject({
        __typename: 'UpstreamError',
        code: expect.any(String),
        retryable: expect.any(Boolean),
      });
    } finally {
      await own.stop();
    }
  });

  it.each<[string, () => Promise<unknown>, string[]]>([
    ['an instance id with a quote', () => pause({ workflowName: WF, instanceId: 'a"b' }), ['input', 'instanceId']],
    [
      'a workflow name starting with "-"',
      () => resume({ workflowName: '-wf', instanceId: 'a' }),
      ['input', 'workflowName'],
    ],
    [
      'an event type with a space',
      () => sendEvent({ workflowName: WF, instanceId: 'a', type: 'pay ment' }),
      ['input', 'type'],
    ],
    [
      'an event type longer than 100',
      () => sendEvent({ workflowName: WF, instanceId: 'a', type: 't'.repeat(101) }),
      ['input', 'type'],
    ],
    [
      'an event payload over 1 MiB',
      () => sendEvent({ workflowName: WF, instanceId: 'a', type: 'x', payload: { blob: 'z'.repeat(1024 * 1024) } }),
      ['input', 'payload'],
    ],
    [
      'a step name with a control character',
      () => restart({ workflowName: WF, instanceId: 'a', from: { stepName: 'a\nb' } }),
      ['input', 'from', 'stepName'],
    ],
    [
      'an empty step name',
      () => restart({ workflowName: WF, instanceId: 'a', from: { stepName: '' } }),
      ['input', 'from', 'stepName'],
    ],
    [
      'a step count of 0',
      () => restart({ workflowName: WF, instanceId: 'a', from: { stepName: 'x', count: 0 } }),
      ['input', 'from', 'count'],
    ],
  ])('refuses %s with InvalidInputError and makes no upstream call', async (_label, send, path) => {
    expect(await send()).toMatchObject({ __typename: 'InvalidInputError', path, message: expect.any(String) });
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('addresses cron-created instance ids, which contain spaces and slashes', async () => {
    expect(await pause({ workflowName: WF, instanceId: '*/30 * * * *-1786001400000' })).toMatchObject({
      __typename: 'InstanceNotFoundError',
    });
    expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(1);
  });
});
