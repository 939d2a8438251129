import Cloudflare from 'cloudflare';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  WriteCreateInstanceDocument as CREATE,
  WriteCreateInstancesDocument as CREATE_MANY,
  WriteCreateInstanceTwiceDocument,
  WriteReadInstanceDocument as READ,
  type CreateInstanceInput,
  type CreateInstancesInput,
} from '../generated/operations.js';
import { expectData, expectPresent, expectTypename } from '../helpers/graphql.js';
import { createInstance, freshId } from '../helpers/instances.js';
import { startStack, type Stack } from '../helpers/stack.js';

const WF = 'order-fulfillment';
const CREATE_ROUTE = 'POST /accounts/{account_id}/workflows/{workflow_name}/instances';

/** `createInstance` through `stack`, answering its result union (the response must have no GraphQL errors). */
async function create(stack: Stack, input: CreateInstanceInput) {
  return expectData(await stack.graphql(CREATE, { input })).createInstance;
}

/** `createInstances` through `stack`, answering its result union. */
async function createMany(stack: Stack, input: CreateInstancesInput) {
  return expectData(await stack.graphql(CREATE_MANY, { input })).createInstances;
}

/** The params an instance was created with, read back through the gateway. */
async function paramsOf(stack: Stack, id: string): Promise<unknown> {
  return expectPresent(expectData(await stack.graphql(READ, { workflowName: WF, id })).instance, `instance ${id}`)
    .params;
}

// One stack for the tests that inject no 429 (a 429 holds back every later call of the client).
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ config: { upstream: { maxRetries: 0 }, createInstancesLimit: 300 } });
});
afterAll(() => stack.stop());
beforeEach(() => {
  stack.emulator.faults.clear();
  stack.resetCalls();
});

describe('createInstance', () => {
  it('creates an instance with a chosen id and returns it, readable at once', async () => {
    const id = freshId('happy');
    expect(await create(stack, { workflowName: WF, instanceId: id, params: { orderId: 'o-1' } })).toMatchObject({
      __typename: 'CreateInstancePayload',
      recovered: false,
      instance: { workflowName: WF, instanceId: id, params: { orderId: 'o-1' } },
    });
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(1);
  });

  it('generates a UUID when no id is given', async () => {
    const created = expectTypename(await create(stack, { workflowName: WF }), 'CreateInstancePayload');
    expect(created.instance?.instanceId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it.each([
    ['an object', { nested: { list: [1, 'two', null, true] }, unicode: 'é😀' }],
    ['an array', [1, { a: 'b' }, [2]]],
    ['a string that looks like JSON', '{"not":"parsed"}'],
    ['a number', 42.5],
    ['null', null],
  ])(
    'round-trips params that are %s, as the same JSON value, through the emulator and the official SDK',
    async (_label, params) => {
      const id = freshId('params');
      expectTypename(await create(stack, { workflowName: WF, instanceId: id, params }), 'CreateInstancePayload');
      expect(await paramsOf(stack, id)).toEqual(params);

      // The official SDK reads what the workflow received: the same value, not a JSON-encoded string.
      const sdk = new Cloudflare({
        apiToken: stack.config.upstream.apiToken,
        baseURL: stack.emulator.url,
        maxRetries: 0,
      });
      const viaSdk = await sdk.workflows.instances.get(id, {
        account_id: stack.config.upstream.accountId,
        workflow_name: WF,
      });
      expect(viaSdk.params).toEqual(params);

      // And what the SDK sends (it types params as a string, but sends any value) reads back the same here.
      const sdkId = freshId('sdk');
      await sdk.workflows.instances.create(WF, {
        account_id: stack.config.upstream.accountId,
        instance_id: sdkId,
        params: params as never,
      });
      expect(await paramsOf(stack, sdkId)).toEqual(params);
    },
  );

  it('returns InstanceAlreadyExistsError for a taken id', async () => {
    const id = freshId('taken');
    await createInstance(stack, WF, id);
    expect(await create(stack, { workflowName: WF, instanceId: id, params: { other: true } })).toMatchObject({
      __typename: 'InstanceAlreadyExistsError',
      instanceId: id,
      message: expect.stringContaining(id),
    });
  });

  it('returns WorkflowNotFoundError for an unknown workflow', async () => {
    expect(await create(stack, { workflowName: 'no-such-workflow', params: {} })).toMatchObject({
      __typename: 'WorkflowNotFoundError',
      workflowName: 'no-such-workflow',
    });
  });

  it('returns UpstreamError when upstream keeps failing, and never leaves a second instance behind', async () => {
    stack.emulator.faults.set({ route: CREATE_ROUTE, errorRate: 1 });
    const id = freshId('failing');
    const failed = expectTypename(await create(stack, { workflowName: WF, instanceId: id }), 'UpstreamError');
    expect(failed).toMatchObject({ code: expect.any(String), retryable: expect.any(Boolean) });
    expect(failed.message).not.toMatch(/token|authorization/i);
  });

  it('recognises its own create when the answer is lost after the upstream processed it', async () => {
    // The handler runs, then the body is cut off: the gateway cannot know whether the create happened.
    stack.emulator.faults.set({ route: CREATE_ROUTE, truncate: 1 });
    const id = freshId('lost');
    expect(await create(stack, { workflowName: WF, instanceId: id, params: { lost: 'answer' } })).toMatchObject({
      __typename: 'CreateInstancePayload',
      recovered: true,
      instance: { instanceId: id, params: { lost: 'answer' } },
    });
    // Looked up instead of replayed: exactly one create was sent.
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(1);
  });

  it('recognises a lost answer for a generated id too (the id is sent, so it can be looked up)', async () => {
    stack.emulator.faults.set({ route: CREATE_ROUTE, truncate: 1 });
    expect(await create(stack, { workflowName: WF, params: [1, 2, 3] })).toMatchObject({
      __typename: 'CreateInstancePayload',
      recovered: true,
      instance: { params: [1, 2, 3] },
    });
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(1);
  });

  it('reports a conflict, not a success, when the answer is lost and the id belongs to an instance with other params', async () => {
    const id = freshId('someone-else');
    await createInstance(stack, WF, id, { owner: 'first' });
    stack.emulator.faults.set({ route: CREATE_ROUTE, truncate: 1 });
    expect(await create(stack, { workflowName: WF, instanceId: id, params: { owner: 'second' } })).toMatchObject({
      __typename: 'InstanceAlreadyExistsError',
      instanceId: id,
    });
    stack.emulator.faults.clear();
    expect(await paramsOf(stack, id)).toEqual({ owner: 'first' });
  });

  it('makes the new instance visible to the rest of the same operation', async () => {
    const id = freshId('same-op');
    const result = await stack.graphql(WriteCreateInstanceTwiceDocument, {
      input: { workflowName: WF, instanceId: id, params: 1 },
    });
    expect(result.data).toEqual({
      before: { __typename: 'CreateInstancePayload' },
      again: { __typename: 'InstanceAlreadyExistsError' },
    });
  });
});

describe('invalid input', () => {
  const big = 'x'.repeat(1024 * 1024);

  it.each<[string, CreateInstanceInput, string[]]>([
    ['an empty workflow name', { workflowName: '' }, ['input', 'workflowName']],
    ['a workflow name longer than 64', { workflowName: 'w'.repeat(65) }, ['input', 'workflowName']],
    ['a workflow name with a slash', { workflowName: 'a/b' }, ['input', 'workflowName']],
    ['an instance id starting with "-"', { workflowName: WF, instanceId: '-x' }, ['input', 'instanceId']],
    ['an instance id longer than 100', { workflowName: WF, instanceId: 'i'.repeat(101) }, ['input', 'instanceId']],
    ['a reserved cf_ instance id', { workflowName: WF, instanceId: `cf_${'a1'.repeat(32)}` }, ['input', 'instanceId']],
    ['params over 1 MiB', { workflowName: WF, params: big }, ['input', 'params']],
    [
      'a malformed retention',
      { workflowName: WF, retention: { successRetention: 'soon' } },
      ['input', 'retention', 'successRetention'],
    ],
    [
      'a negative retention',
      { workflowName: WF, retention: { errorRetention: '-5' } },
      ['input', 'retention', 'errorRetention'],
    ],
  ])('refuses %s with InvalidInputError and makes no upstream call', async (_label, input, path) => {
    expect(await create(stack, input)).toMatchObject({
      __typename: 'InvalidInputError',
      path,
      message: expect.any(String),
    });
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('accepts params of exactly 1 MiB', async () => {
    // 1 MiB of JSON text: the string's quotes count.
    expectTypename(
      await create(stack, { workflowName: WF, params: 'y'.repeat(1024 * 1024 - 2) }),
      'CreateInstancePayload',
    );
  });

  it.each<[string, CreateInstancesInput['instances'], string[]]>([
    ['an empty batch', [], ['input', 'instances']],
    ['a batch over the configured limit', Array.from({ length: 301 }, () => ({})), ['input', 'instances']],
    [
      'an id repeated within the batch',
      [{ instanceId: 'a' }, { instanceId: 'b' }, { instanceId: 'a' }],
      ['input', 'instances', '2', 'instanceId'],
    ],
    ['a bad item deep in the batch', [{}, {}, {}, { instanceId: 'bad id' }], ['input', 'instances', '3', 'instanceId']],
  ])('refuses %s with InvalidInputError and makes no upstream call', async (_label, instances, path) => {
    expect(await createMany(stack, { workflowName: WF, instances })).toMatchObject({
      __typename: 'InvalidInputError',
      path,
    });
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('refuses an unknown location hint through the schema, before any call', async () => {
    // Cast on purpose: the generated input type rightly rejects the value this test must send.
    const result = await stack.graphql(CREATE, {
      input: { workflowName: WF, locationHint: 'MOON' as CreateInstanceInput['locationHint'] },
    });
    expect(result.errors?.[0]?.message).toMatch(/LocationHint/);
    expect(stack.upstreamCalls()).toBe(0);
  });
});

describe('createInstances', () => {
  it('creates 250 instances in exactly 3 batch calls and answers 250 results in input order', async () => {
    const prefix = freshId('bulk');
    const instances = Array.from({ length: 250 }, (_, i) => ({ instanceId: `${prefix}-${i}`, params: { n: i } }));
    const payload = expectTypename(await createMany(stack, { workflowName: WF, instances }), 'CreateInstancesPayload');
    expect(payload.createdCount).toBe(250);
    expect(payload.results).toHaveLength(250);
    payload.results.forEach((r, i) => {
      expect(r).toEqual({
        index: i,
        instanceId: `${prefix}-${i}`,
        recovered: false,
        instance: { instanceId: `${prefix}-${i}` },
        error: null,
      });
    });
    expect(stack.upstreamCalls({ method: 'POST', routeIncludes: '/instances/batch' })).toBe(3);
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(3);
    expect(await paramsOf(stack, `${prefix}-249`)).toEqual({ n: 249 });
  });

  it('reports ids the batch endpoint skipped as InstanceAlreadyExistsError items', async () => {
    const taken = freshId('taken');
    await createInstance(stack, WF, taken);
    const fresh = freshId('fresh');
    const payload = expectTypename(
      await createMany(stack, { workflowName: WF, instances: [{ instanceId: fresh }, { instanceId: taken }, {}] }),
      'CreateInstancesPayload',
    );
    expect(payload.createdCount).toBe(2);
    expect(payload.results[0]).toMatchObject({
      index: 0,
      instanceId: fresh,
      error: null,
      instance: { instanceId: fresh },
    });
    expect(payload.results[1]).toMatchObject({
      index: 1,
      instanceId: taken,
      instance: null,
      error: { __typename: 'InstanceAlreadyExistsError', instanceId: taken },
    });
    expect(payload.results[2]).toMatchObject({ index: 2, error: null });
  });

  it('returns WorkflowNotFoundError for an unknown workflow', async () => {
    expect(await createMany(stack, { workflowName: 'no-such-workflow', instances: [{}] })).toMatchObject({
      __typename: 'WorkflowNotFoundError',
      workflowName: 'no-such-workflow',
    });
  });

  it('recovers a batch whose answer was lost, without sending it twice', async () => {
    stack.emulator.faults.set({ route: /instances\/batch$/, truncate: 1 });
    const prefix = freshId('lost-batch');
    const instances = Array.from({ length: 5 }, (_, i) => ({ instanceId: `${prefix}-${i}`, params: { i } }));
    const payload = expectTypename(await createMany(stack, { workflowName: WF, instances }), 'CreateInstancesPayload');
    expect(payload.createdCount).toBe(5);
    expect(payload.results.map((r) => [r.recovered, r.error])).toEqual(Array(5).fill([true, null]));
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(1);
  });
});

describe('rate limits', () => {
  // A 429 makes the client hold back every call until Retry-After has passed, so each test gets its own stack.
  let own: Stack;
  beforeEach(async () => {
    own = await startStack({ config: { upstream: { maxRetries: 0 } } });
  });
  afterEach(() => own.stop());

  it('returns RateLimitedError with retryAfter in seconds when upstream answers 429', async () => {
    own.emulator.faults.set({ route: CREATE_ROUTE, rateLimitRate: 1 });
    const limited = expectTypename(
      await create(own, { workflowName: WF, instanceId: freshId('limited') }),
      'RateLimitedError',
    );
    expect(limited.retryAfter).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(limited.retryAfter)).toBe(true);
  });

  it('returns RateLimitedError when the first batch call is refused with 429', async () => {
    own.emulator.faults.set({ route: /instances\/batch$/, rateLimitRate: 1 });
    expect(await createMany(own, { workflowName: WF, instances: [{}, {}] })).toMatchObject({
      __typename: 'RateLimitedError',
      retryAfter: expect.any(Number),
    });
  });
});

describe('a create that never reached upstream', () => {
  // The stack's loopback proxy swallows the next create and resets its connection, so the gateway cannot
  // tell whether it landed; unlike the emulator's faults, it does so exactly once.
  let proxied: Stack;
  let swallowNextCreate = false;

  beforeAll(async () => {
    proxied = await startStack({
      config: { upstream: { maxRetries: 0 } },
      interceptUpstream: ({ method, path }) => {
        if (!swallowNextCreate || method !== 'POST' || !/\/instances$/.test(path)) return 'forward';
        swallowNextCreate = false;
        return 'drop';
      },
    });
  });
  afterAll(() => proxied.stop());

  it('looks the id up, finds nothing and sends the create again, creating exactly one instance', async () => {
    proxied.resetCalls();
    swallowNextCreate = true;
    const id = freshId('swallowed');
    expect(await create(proxied, { workflowName: WF, instanceId: id, params: { attempt: 'once' } })).toMatchObject({
      __typename: 'CreateInstancePayload',
      recovered: true,
      instance: { instanceId: id, params: { attempt: 'once' } },
    });
    expect(swallowNextCreate).toBe(false);
    // The swallowed create never reached the emulator; the second one did.
    expect(proxied.upstreamCalls({ method: 'POST' })).toBe(1);
  });
});
