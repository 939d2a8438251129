import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { InstanceStatus } from '../../src/upstream/types.js';
import {
  WriteCreateManyThenReadDocument as CREATE_MANY,
  WriteCreateThenReadDocument as CREATE,
  WritePauseThenReadDocument as PAUSE,
  WriteReadBackQueryDocument as READ,
  WriteRestartThenReadDocument as RESTART,
  WriteResumeThenReadDocument as RESUME,
  WriteSendEventThenReadDocument as SEND_EVENT,
  WriteTerminateThenReadDocument as TERMINATE,
} from '../generated/operations.js';
import { expectPresent, expectTypename } from '../helpers/graphql.js';
import { freshId } from '../helpers/instances.js';
import { startStack, type GraphQLResult, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A write that succeeded keeps its outcome when the read after it fails: the payload arrives with what the
 * write answered, and the failed read is a field error on the payload's `instance` (issue 12, "Mutations
 * never lose their outcome"). The reads fail by the emulator's fault injection on the instance route.
 */

const WF = 'order-fulfillment';
const INSTANCE_ROUTE = 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let stack: Stack;
beforeAll(async () => {
  // No retries: the failing read then fails at once. No cache of finished instances across operations.
  stack = await startStack({ listen: true, config: { upstream: { maxRetries: 0 }, finishedInstanceTtlMs: 0 } });
});
afterAll(() => stack.stop());
afterEach(() => stack.emulator.faults.clear());

/** POSTs a typed operation to the listening gateway over real HTTP. */
async function overHttp<R, V>(document: TypedDocumentNode<R, V>, variables: V): Promise<GraphQLResult<R>> {
  const response = await fetch(expectPresent(stack.url, 'the gateway URL'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return (await response.json()) as GraphQLResult<R>;
}

const failReads = (): void => stack.emulator.faults.set({ route: INSTANCE_ROUTE, errorRate: 1 });

interface UpstreamInstance {
  readonly status: InstanceStatus;
  readonly steps: readonly { readonly type: string }[];
}

/** What the upstream holds for an instance, read straight from the emulator (never through the gateway). */
const upstreamInstance = (id: string): Promise<UpstreamInstance> =>
  stack.rest<UpstreamInstance>('GET', `/${WF}/instances/${encodeURIComponent(id)}`);
const upstreamStatus = async (id: string): Promise<InstanceStatus> => (await upstreamInstance(id)).status;

/** The code a client gets for a failing read of the same fields through a query, outside any write. */
async function readErrorCode(id: string): Promise<string> {
  failReads();
  const result = await overHttp(READ, { workflowName: WF, id });
  stack.emulator.faults.clear();
  return String(expectPresent(result.errors?.[0], 'the read error').extensions?.['code']);
}

/**
 * Checks a result whose write succeeded and whose read after it failed: data is there, every error is a field
 * error under one of the payloads' `instance` fields (`<payload path>.instance`), coded as the failing read
 * is, and each of them has one.
 */
function expectReadErrorsInside(result: GraphQLResult<unknown>, payloads: readonly string[], code: string): void {
  expect(result.data, JSON.stringify(result.errors)).not.toBeNull();
  const errors = expectPresent(result.errors, 'the failed read');
  const under = errors.map((error) => {
    expect(error.extensions?.['code']).toBe(code);
    const path = error.path?.join('.') ?? '';
    return payloads.find((payload) => path.startsWith(`${payload}.instance.`));
  });
  expect(new Set(under)).toEqual(new Set(payloads));
}

/** An order that has passed its cool-off and waits for the `payment-approved` event. */
async function waitingOrder(prefix: string): Promise<string> {
  const id = freshId(prefix);
  await stack.rest('POST', `/${WF}/instances`, { instance_id: id, params: { orderId: id } });
  await stack.emulator.clock.advance(61_000);
  expect(await upstreamStatus(id)).toBe('waiting');
  return id;
}

describe('a write whose read-back fails still answers its outcome', () => {
  let code: string;
  beforeAll(async () => {
    code = await readErrorCode(await waitingOrder('code'));
  });

  it('createInstance with a generated id: the id of the instance that now exists reaches the client', async () => {
    failReads();
    stack.resetCalls();
    const result = await overHttp(CREATE, { input: { workflowName: WF, params: { orderId: 'generated' } } });
    expectReadErrorsInside(result, ['createInstance'], code);
    const payload = expectTypename(result.data?.createInstance, 'CreateInstancePayload');
    expect(payload.instanceId).toMatch(UUID);
    expect(payload.status).toBe('QUEUED');
    expect(payload.instance).toBeNull();
    stack.emulator.faults.clear();
    expect(await upstreamStatus(payload.instanceId)).toBeDefined();
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(1);
  });

  it('createInstance with a chosen id', async () => {
    const id = freshId('chosen');
    failReads();
    const result = await overHttp(CREATE, { input: { workflowName: WF, instanceId: id } });
    expectReadErrorsInside(result, ['createInstance'], code);
    expect(expectTypename(result.data?.createInstance, 'CreateInstancePayload')).toMatchObject({
      instanceId: id,
      status: 'QUEUED',
      instance: null,
    });
    stack.emulator.faults.clear();
    expect(await upstreamStatus(id)).toBeDefined();
  });

  it('createInstances: every item keeps its id and the status the batch reported', async () => {
    failReads();
    stack.resetCalls();
    const result = await overHttp(CREATE_MANY, { input: { workflowName: WF, instances: [{}, {}, {}] } });
    const payload = expectTypename(result.data?.createInstances, 'CreateInstancesPayload');
    expect(payload.createdCount).toBe(3);
    for (const item of payload.results) {
      expect(item).toMatchObject({ status: 'QUEUED', instance: null, error: null });
      expect(item.instanceId).toMatch(UUID);
    }
    expectReadErrorsInside(
      result,
      ['createInstances.results.0', 'createInstances.results.1', 'createInstances.results.2'],
      code,
    );
    stack.emulator.faults.clear();
    for (const item of payload.results) expect(await upstreamStatus(item.instanceId)).toBeDefined();
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(1);
  });

  it('pauseInstance, resumeInstance, terminateInstance and restartInstance answer the status the change reported', async () => {
    const id = await waitingOrder('changes');
    const input = { workflowName: WF, instanceId: id };
    /** Checks the payload of one change, and that the upstream made it. */
    const expectKept = async (
      field: string,
      result: GraphQLResult<unknown>,
      payload: { status: string; timestamp: string; instance: unknown },
      reported: string,
      upstream: (details: UpstreamInstance) => boolean,
    ): Promise<void> => {
      expectReadErrorsInside(result, [field], code);
      expect(payload).toEqual({
        __typename: expect.any(String),
        status: reported,
        timestamp: expect.any(String),
        instance: null,
      });
      stack.emulator.faults.clear();
      expect(upstream(await upstreamInstance(id)), `${field} reached upstream`).toBe(true);
      failReads();
    };

    failReads();
    const paused = await overHttp(PAUSE, { input });
    const pausePayload = expectTypename(paused.data?.pauseInstance, 'PauseInstancePayload');
    await expectKept('pauseInstance', paused, pausePayload, 'PAUSED', (d) => d.status === 'paused');
    const resumed = await overHttp(RESUME, { input });
    const resumePayload = expectTypename(resumed.data?.resumeInstance, 'ResumeInstancePayload');
    await expectKept('resumeInstance', resumed, resumePayload, 'QUEUED', (d) => d.status !== 'paused');
    const ended = await overHttp(TERMINATE, { input });
    const terminatePayload = expectTypename(ended.data?.terminateInstance, 'TerminateInstancePayload');
    await expectKept('terminateInstance', ended, terminatePayload, 'TERMINATED', (d) => d.status === 'terminated');
    const restarted = await overHttp(RESTART, { input });
    const restartPayload = expectTypename(restarted.data?.restartInstance, 'RestartInstancePayload');
    await expectKept(
      'restartInstance',
      restarted,
      restartPayload,
      'QUEUED',
      (d) => d.status !== 'terminated' && !d.steps.some((step) => step.type === 'waitForEvent'),
    );
  });

  it('sendInstanceEvent delivers the event and answers its timestamp', async () => {
    const id = await waitingOrder('event');
    failReads();
    const result = await overHttp(SEND_EVENT, {
      input: { workflowName: WF, instanceId: id, type: 'payment-approved', payload: { approved: true } },
    });
    expectReadErrorsInside(result, ['sendInstanceEvent'], code);
    expect(expectTypename(result.data?.sendInstanceEvent, 'SendInstanceEventPayload')).toMatchObject({
      instance: null,
      timestamp: expect.any(String),
    });
    stack.emulator.faults.clear();
    await stack.emulator.clock.advance(0);
    expect(await upstreamStatus(id)).not.toBe('waiting');
  });
});

describe('a create whose answer is lost and whose lookup fails too', () => {
  // The loopback proxy drops every create (the gateway cannot tell whether it landed) and the emulator fails
  // every lookup, so the outcome stays unknown: the answer must still name the instance that may now exist.
  let lossy: Stack;
  let dropCreates = true;
  beforeAll(async () => {
    lossy = await startStack({
      listen: true,
      config: { upstream: { maxRetries: 0 } },
      interceptUpstream: ({ method }) => (dropCreates && method === 'POST' ? 'drop' : 'forward'),
    });
  });
  afterAll(() => lossy.stop());
  afterEach(() => {
    lossy.emulator.faults.clear();
    dropCreates = true;
  });

  const post = async <R, V>(document: TypedDocumentNode<R, V>, variables: V): Promise<GraphQLResult<R>> => {
    const response = await fetch(expectPresent(lossy.url, 'the gateway URL'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: print(document), variables }),
    });
    return (await response.json()) as GraphQLResult<R>;
  };

  it('createInstance with a generated id answers OUTCOME_UNKNOWN with the id, which the client can then look up', async () => {
    lossy.emulator.faults.set({ route: INSTANCE_ROUTE, errorRate: 1 });
    const result = await post(CREATE, { input: { workflowName: WF } });
    const unknown = expectTypename(result.data?.createInstance, 'UpstreamError');
    expect(unknown).toMatchObject({ code: 'OUTCOME_UNKNOWN', retryable: false });
    const id = expectPresent(unknown.targetInstanceId, 'the id of the instance that may exist');
    expect(id).toMatch(UUID);

    // With that id the client finds out (here: the create never landed) and creates it exactly once.
    lossy.emulator.faults.clear();
    dropCreates = false;
    expect((await post(READ, { workflowName: WF, id })).data?.instance).toBeNull();
    const again = await post(CREATE, { input: { workflowName: WF, instanceId: id } });
    expect(expectTypename(again.data?.createInstance, 'CreateInstancePayload').instanceId).toBe(id);
  });

  it('createInstances: every item whose outcome is unknown names its own instance in the error too', async () => {
    lossy.emulator.faults.set({ route: INSTANCE_ROUTE, errorRate: 1 });
    const result = await post(CREATE_MANY, { input: { workflowName: WF, instances: [{}, {}] } });
    const payload = expectTypename(result.data?.createInstances, 'CreateInstancesPayload');
    expect(payload.createdCount).toBe(0);
    expect(payload.results).toHaveLength(2);
    for (const item of payload.results) {
      expect(item.instanceId).toMatch(UUID);
      expect(expectTypename(item.error, 'UpstreamError')).toMatchObject({
        code: 'OUTCOME_UNKNOWN',
        targetInstanceId: item.instanceId,
      });
    }
  });
});

describe('a read after a write', () => {
  // The loopback proxy keeps the emulator's answer to one read from the gateway, so that the read is still in
  // flight when a write to the same instance goes out; identical reads in flight share one request
  // (src/upstream/inflight.ts), which must not hand a read made after the write an answer from before it.
  let held: Stack;
  let hold: ((path: string) => Promise<void> | undefined) | undefined;
  beforeAll(async () => {
    held = await startStack({
      listen: true,
      config: { upstream: { maxRetries: 0 }, finishedInstanceTtlMs: 0 },
      interceptUpstream: ({ method, path }) => {
        const until = method === 'GET' ? hold?.(path) : undefined;
        return until ? { holdAnswerUntil: until } : 'forward';
      },
    });
  });
  afterAll(() => held.stop());

  it('never joins a read that started before the write: the payload and a later query answer the new status', async () => {
    const id = freshId('read-after-write');
    await held.rest('POST', `/${WF}/instances`, { instance_id: id, params: { orderId: id } });
    await held.emulator.clock.advance(61_000);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    hold = (path) => {
      if (holding || !path.includes(`/instances/${id}`)) return undefined;
      holding = true;
      return released;
    };
    const before = held.graphql(READ, { workflowName: WF, id });
    await waitFor(() => holding, { message: 'the first read held by the proxy' });

    const paused = expectTypename(
      expectPresent((await held.graphql(PAUSE, { input: { workflowName: WF, instanceId: id } })).data, 'data')
        .pauseInstance,
      'PauseInstancePayload',
    );
    expect(await held.emulator.engine.waitForStatus(held.config.upstream.accountId, WF, id, 'paused')).toBe('paused');
    expect(paused.instance?.status).toBe('PAUSED');
    const after = expectPresent((await held.graphql(READ, { workflowName: WF, id })).data, 'data').instance;
    expect(after?.status).toBe('PAUSED');

    release();
    // The read that started before the write answers what upstream said then.
    expect(expectPresent((await before).data, 'data').instance?.status).toBe('WAITING');
  });
});
