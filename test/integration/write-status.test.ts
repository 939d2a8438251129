import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { InstanceStatus } from '../../src/upstream/types.js';
import { startStack, type Stack } from '../helpers/stack.js';

const WF = 'order-fulfillment';
const STATUS_ROUTE = 'PATCH /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}/status';

/** An operation of test/operations/write with the fragments it spreads. */
function op(name: string): string {
  const dir = new URL('../operations/write/', import.meta.url);
  const text = readFileSync(new URL(`${name}.graphql`, dir), 'utf8');
  const fragments = readFileSync(new URL('fragments.graphql', dir), 'utf8').split(/\n(?=fragment )/);
  return [text, ...fragments.filter((f) => text.includes(`...${/fragment (\w+)/.exec(f)?.[1]}`))].join('\n');
}

const CREATE = op('create-instance');
const PAUSE = op('pause-instance');
const RESUME = op('resume-instance');
const TERMINATE = op('terminate-instance');
const RESTART = op('restart-instance');
const SEND_EVENT = op('send-instance-event');
const READ = op('instance');

let counter = 0;
const freshId = (prefix: string): string => `${prefix}-${process.pid}-${++counter}`;

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

  /** An order that has passed its cool-off and waits for the `payment-approved` event. */
  async function awaitingApproval(prefix: string): Promise<string> {
    const id = freshId(prefix);
    const created = await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: id, params: { orderId: id } } });
    expect(created.data.createInstance.__typename).toBe('CreateInstancePayload');
    await stack.emulator.clock.advance(61_000);
    const read = await stack.graphql(READ, { workflowName: WF, id });
    expect(read.data.instance.steps.at(-1)).toMatchObject({ type: 'WAIT_FOR_EVENT', finished: false });
    stack.resetCalls();
    return id;
  }

  it('pauses a waiting instance and resumes it, answering the new state and the upstream timestamp', async () => {
    const id = await awaitingApproval('pause');
    const paused = await stack.graphql(PAUSE, { input: { workflowName: WF, instanceId: id } });
    expect(paused.errors).toBeUndefined();
    expect(paused.data.pauseInstance).toMatchObject({ __typename: 'PauseInstancePayload', instance: { instanceId: id } });
    expect(['PAUSED', 'WAITING_FOR_PAUSE']).toContain(paused.data.pauseInstance.instance.status);
    expect(new Date(paused.data.pauseInstance.timestamp).toISOString()).toBe(paused.data.pauseInstance.timestamp);
    await statusOf(id, 'paused');

    const resumed = await stack.graphql(RESUME, { input: { workflowName: WF, instanceId: id } });
    expect(resumed.data.resumeInstance).toMatchObject({ __typename: 'ResumeInstancePayload', instance: { instanceId: id } });
    expect(resumed.data.resumeInstance.instance.status).not.toBe('PAUSED');
    expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(2);
  });

  it('terminates an instance', async () => {
    const id = await awaitingApproval('terminate');
    const result = await stack.graphql(TERMINATE, { input: { workflowName: WF, instanceId: id, rollback: false } });
    expect(result.data.terminateInstance).toMatchObject({
      __typename: 'TerminateInstancePayload',
      instance: { instanceId: id, status: 'TERMINATED' },
      timestamp: expect.any(String),
    });
  });

  it('refuses a change the state machine forbids from a status known in the operation, without calling upstream', async () => {
    const id = await awaitingApproval('known');
    const result = await stack.graphql(
      `mutation($t: TerminateInstanceInput!, $p: PauseInstanceInput!) {
        t: terminateInstance(input: $t) { ... on TerminateInstancePayload { instance { status } } }
        p: pauseInstance(input: $p) { ...WriteError }
      }
      ${op('fragments').split(/\n(?=fragment WriteChangedInstance)/)[0]}`,
      { t: { workflowName: WF, instanceId: id }, p: { workflowName: WF, instanceId: id } },
    );
    expect(result.data.t.instance.status).toBe('TERMINATED');
    expect(result.data.p).toMatchObject({ __typename: 'InvalidTransitionError', currentStatus: 'TERMINATED', action: 'PAUSE' });
    // One PATCH for the terminate; the pause was refused before any call.
    expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(1);
  });

  it('maps the upstream refusal of a change to InvalidTransitionError with the status fetched afterwards', async () => {
    const id = await awaitingApproval('refused');
    await stack.graphql(TERMINATE, { input: { workflowName: WF, instanceId: id } });
    stack.resetCalls();
    // A new operation: nothing is known, so the gateway asks upstream, which refuses.
    const result = await stack.graphql(TERMINATE, { input: { workflowName: WF, instanceId: id } });
    expect(result.data.terminateInstance).toMatchObject({
      __typename: 'InvalidTransitionError',
      currentStatus: 'TERMINATED',
      action: 'TERMINATE',
      message: expect.stringContaining('fetched after the refusal'),
    });
    expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(1);
  });

  it('returns InstanceNotFoundError and WorkflowNotFoundError for unknown targets', async () => {
    const noInstance = await stack.graphql(PAUSE, { input: { workflowName: WF, instanceId: 'no-such-instance' } });
    expect(noInstance.data.pauseInstance).toMatchObject({ __typename: 'InstanceNotFoundError', instanceId: 'no-such-instance' });
    const noWorkflow = await stack.graphql(SEND_EVENT, { input: { workflowName: 'no-such-workflow', instanceId: 'x', type: 'payment-approved' } });
    expect(noWorkflow.data.sendInstanceEvent).toMatchObject({ __typename: 'WorkflowNotFoundError', workflowName: 'no-such-workflow' });
  });

  it('releases a waiting order-fulfillment instance with a payment-approved event', async () => {
    const id = await awaitingApproval('event');
    const result = await stack.graphql(SEND_EVENT, {
      input: { workflowName: WF, instanceId: id, type: 'payment-approved', payload: { approved: true } },
    });
    expect(result.data.sendInstanceEvent).toMatchObject({ __typename: 'SendInstanceEventPayload', instance: { instanceId: id }, timestamp: expect.any(String) });
    await statusOf(id, 'complete');
    const read = await stack.graphql(READ, { workflowName: WF, id });
    expect(read.data.instance).toMatchObject({ status: 'COMPLETE', output: { orderId: id, status: 'shipped' } });
    const wait = read.data.instance.steps.find((s: { type: string }) => s.type === 'WAIT_FOR_EVENT');
    expect(wait).toMatchObject({ finished: true, payload: { approved: true } });
  });

  it('delivers the payload as the JSON value given: a string "true" is not an approval', async () => {
    const id = await awaitingApproval('event-string');
    await stack.graphql(SEND_EVENT, { input: { workflowName: WF, instanceId: id, type: 'payment-approved', payload: { approved: 'true' } } });
    expect(await statusOf(id, ['complete', 'errored'])).toBe('errored');
  });

  it('restarts an instance from a named step, keeping the steps before it', async () => {
    const id = await awaitingApproval('restart');
    await stack.graphql(SEND_EVENT, { input: { workflowName: WF, instanceId: id, type: 'payment-approved', payload: { approved: true } } });
    await statusOf(id, 'complete');
    const before = await stack.graphql(READ, { workflowName: WF, id });
    expect(before.data.instance.steps.map((s: { name: string }) => s.name)).toContain('ship-order-1');

    const result = await stack.graphql(RESTART, {
      input: { workflowName: WF, instanceId: id, from: { stepName: 'await-payment-approval', type: 'WAIT_FOR_EVENT' } },
    });
    expect(result.data.restartInstance).toMatchObject({ __typename: 'RestartInstancePayload', instance: { instanceId: id } });
    await statusOf(id, ['waiting', 'running']);
    const after = await stack.graphql(READ, { workflowName: WF, id });
    // Steps before the target are kept; the wait runs again and nothing after it has run yet.
    expect(after.data.instance.steps.map((s: { name: string }) => s.name)).toEqual([
      'validate-order-1',
      'reserve-inventory-1',
      'charge-card-1',
      'cool-off-1',
      'await-payment-approval-1',
    ]);
    expect(after.data.instance.steps.at(-1)).toMatchObject({ type: 'WAIT_FOR_EVENT', finished: false });
  });

  it('restarts an instance from scratch', async () => {
    const id = await awaitingApproval('restart-all');
    const result = await stack.graphql(RESTART, { input: { workflowName: WF, instanceId: id } });
    expect(result.data.restartInstance.__typename).toBe('RestartInstancePayload');
    expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(1);
  });

  it('returns RateLimitedError when upstream answers a status change with 429', async () => {
    const own = await startStack({ config: { upstream: { maxRetries: 0 } } });
    try {
      own.emulator.faults.set({ route: STATUS_ROUTE, rateLimitRate: 1 });
      const result = await own.graphql(PAUSE, { input: { workflowName: WF, instanceId: 'any-instance' } });
      expect(result.data.pauseInstance).toMatchObject({ __typename: 'RateLimitedError', retryAfter: expect.any(Number) });
    } finally {
      await own.stop();
    }
  });

  it('returns UpstreamError when upstream fails a status change', async () => {
    const own = await startStack({ config: { upstream: { maxRetries: 0 } } });
    try {
      own.emulator.faults.set({ route: STATUS_ROUTE, errorRate: 1 });
      const result = await own.graphql(RESUME, { input: { workflowName: WF, instanceId: 'any-instance' } });
      expect(result.data.resumeInstance).toMatchObject({ __typename: 'UpstreamError', code: expect.any(String), retryable: expect.any(Boolean) });
    } finally {
      await own.stop();
    }
  });

  it.each([
    ['an instance id with a quote', PAUSE, 'pauseInstance', { workflowName: WF, instanceId: 'a"b' }, ['input', 'instanceId']],
    ['a workflow name starting with "-"', RESUME, 'resumeInstance', { workflowName: '-wf', instanceId: 'a' }, ['input', 'workflowName']],
    ['an event type with a space', SEND_EVENT, 'sendInstanceEvent', { workflowName: WF, instanceId: 'a', type: 'pay ment' }, ['input', 'type']],
    ['an event type longer than 100', SEND_EVENT, 'sendInstanceEvent', { workflowName: WF, instanceId: 'a', type: 't'.repeat(101) }, ['input', 'type']],
    [
      'an event payload over 1 MiB',
      SEND_EVENT,
      'sendInstanceEvent',
      { workflowName: WF, instanceId: 'a', type: 'x', payload: { blob: 'z'.repeat(1024 * 1024) } },
      ['input', 'payload'],
    ],
    ['a step name with a control character', RESTART, 'restartInstance', { workflowName: WF, instanceId: 'a', from: { stepName: 'a\nb' } }, ['input', 'from', 'stepName']],
    ['an empty step name', RESTART, 'restartInstance', { workflowName: WF, instanceId: 'a', from: { stepName: '' } }, ['input', 'from', 'stepName']],
    ['a step count of 0', RESTART, 'restartInstance', { workflowName: WF, instanceId: 'a', from: { stepName: 'x', count: 0 } }, ['input', 'from', 'count']],
  ])('refuses %s with InvalidInputError and makes no upstream call', async (_label, document, field, input, path) => {
    const result = await stack.graphql(document, { input });
    expect(result.data[field]).toMatchObject({ __typename: 'InvalidInputError', path, message: expect.any(String) });
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('addresses cron-created instance ids, which contain spaces and slashes', async () => {
    const result = await stack.graphql(PAUSE, { input: { workflowName: WF, instanceId: '*/30 * * * *-1786001400000' } });
    expect(result.data.pauseInstance).toMatchObject({ __typename: 'InstanceNotFoundError' });
    expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(1);
  });
});
