import { readFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Cloudflare from 'cloudflare';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createConfig } from '../../src/config.js';
import { createEmulator, type Emulator } from '../../src/emulator/server.js';
import { startStack, type Stack } from '../helpers/stack.js';

const WF = 'order-fulfillment';
const CREATE_ROUTE = 'POST /accounts/{account_id}/workflows/{workflow_name}/instances';

/** An operation of test/operations/write with the fragments it spreads. */
function op(name: string): string {
  const dir = new URL('../operations/write/', import.meta.url);
  const text = readFileSync(new URL(`${name}.graphql`, dir), 'utf8');
  const fragments = readFileSync(new URL('fragments.graphql', dir), 'utf8').split(/\n(?=fragment )/);
  return [text, ...fragments.filter((f) => text.includes(`...${/fragment (\w+)/.exec(f)?.[1]}`))].join('\n');
}

const CREATE = op('create-instance');
const CREATE_MANY = op('create-instances');
const READ = op('instance');

let counter = 0;
const freshId = (prefix: string): string => `${prefix}-${process.pid}-${++counter}`;

describe('createInstance', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ config: { upstream: { maxRetries: 0 }, createInstancesLimit: 300 } });
  });
  afterAll(() => stack.stop());
  beforeEach(() => {
    stack.emulator.faults.clear();
    stack.resetCalls();
  });

  it('creates an instance with a chosen id and returns it, readable at once', async () => {
    const id = freshId('happy');
    const result = await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: id, params: { orderId: 'o-1' } } });
    expect(result.errors).toBeUndefined();
    expect(result.data.createInstance).toMatchObject({
      __typename: 'CreateInstancePayload',
      recovered: false,
      instance: { workflowName: WF, instanceId: id, params: { orderId: 'o-1' } },
    });
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(1);
  });

  it('generates a UUID when no id is given', async () => {
    const result = await stack.graphql(CREATE, { input: { workflowName: WF } });
    expect(result.data.createInstance.__typename).toBe('CreateInstancePayload');
    expect(result.data.createInstance.instance.instanceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it.each([
    ['an object', { nested: { list: [1, 'two', null, true] }, unicode: 'é😀' }],
    ['an array', [1, { a: 'b' }, [2]]],
    ['a string that looks like JSON', '{"not":"parsed"}'],
    ['a number', 42.5],
    ['null', null],
  ])('round-trips params that are %s, as the same JSON value, through the emulator and the official SDK', async (_label, params) => {
    const id = freshId('params');
    const created = await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: id, params } });
    expect(created.data.createInstance.__typename).toBe('CreateInstancePayload');

    const read = await stack.graphql(READ, { workflowName: WF, id });
    expect(read.data.instance.params).toEqual(params);

    // The official SDK reads what the workflow received: the same value, not a JSON-encoded string.
    const sdk = new Cloudflare({ apiToken: stack.config.upstream.apiToken, baseURL: stack.emulator.url, maxRetries: 0 });
    const viaSdk = await sdk.workflows.instances.get(id, { account_id: stack.config.upstream.accountId, workflow_name: WF });
    expect(viaSdk.params).toEqual(params);

    // And what the SDK sends (it types params as a string, but sends any value) reads back the same here.
    const sdkId = freshId('sdk');
    await sdk.workflows.instances.create(WF, { account_id: stack.config.upstream.accountId, instance_id: sdkId, params: params as never });
    const readSdk = await stack.graphql(READ, { workflowName: WF, id: sdkId });
    expect(readSdk.data.instance.params).toEqual(params);
  });

  it('returns InstanceAlreadyExistsError for a taken id', async () => {
    const id = freshId('taken');
    await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: id } });
    const again = await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: id, params: { other: true } } });
    expect(again.data.createInstance).toMatchObject({ __typename: 'InstanceAlreadyExistsError', instanceId: id, message: expect.stringContaining(id) });
  });

  it('returns WorkflowNotFoundError for an unknown workflow', async () => {
    const result = await stack.graphql(CREATE, { input: { workflowName: 'no-such-workflow', params: {} } });
    expect(result.data.createInstance).toMatchObject({ __typename: 'WorkflowNotFoundError', workflowName: 'no-such-workflow' });
  });

  it('returns UpstreamError when upstream keeps failing, and never leaves a second instance behind', async () => {
    stack.emulator.faults.set({ route: CREATE_ROUTE, errorRate: 1 });
    const id = freshId('failing');
    const result = await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: id } });
    expect(result.data.createInstance).toMatchObject({ __typename: 'UpstreamError', code: expect.any(String), retryable: expect.any(Boolean) });
    expect(result.data.createInstance.message).not.toMatch(/token|authorization/i);
  });

  it('recognises its own create when the answer is lost after the upstream processed it', async () => {
    // The handler runs, then the body is cut off: the gateway cannot know whether the create happened.
    stack.emulator.faults.set({ route: CREATE_ROUTE, truncate: 1 });
    const id = freshId('lost');
    const result = await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: id, params: { lost: 'answer' } } });
    expect(result.data.createInstance).toMatchObject({
      __typename: 'CreateInstancePayload',
      recovered: true,
      instance: { instanceId: id, params: { lost: 'answer' } },
    });
    // Looked up instead of replayed: exactly one create was sent.
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(1);
  });

  it('recognises a lost answer for a generated id too (the id is sent, so it can be looked up)', async () => {
    stack.emulator.faults.set({ route: CREATE_ROUTE, truncate: 1 });
    const result = await stack.graphql(CREATE, { input: { workflowName: WF, params: [1, 2, 3] } });
    expect(result.data.createInstance).toMatchObject({ __typename: 'CreateInstancePayload', recovered: true, instance: { params: [1, 2, 3] } });
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(1);
  });

  it('reports a conflict, not a success, when the answer is lost and the id belongs to an instance with other params', async () => {
    const id = freshId('someone-else');
    await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: id, params: { owner: 'first' } } });
    stack.emulator.faults.set({ route: CREATE_ROUTE, truncate: 1 });
    const result = await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: id, params: { owner: 'second' } } });
    expect(result.data.createInstance).toMatchObject({ __typename: 'InstanceAlreadyExistsError', instanceId: id });
    stack.emulator.faults.clear();
    expect((await stack.graphql(READ, { workflowName: WF, id })).data.instance.params).toEqual({ owner: 'first' });
  });

  it('makes the new instance visible to the rest of the same operation', async () => {
    const id = freshId('same-op');
    const result = await stack.graphql(
      `mutation($id: String!) {
        before: createInstance(input: { workflowName: "${WF}", instanceId: $id, params: 1 }) { __typename }
        again: createInstance(input: { workflowName: "${WF}", instanceId: $id, params: 1 }) { __typename }
      }`,
      { id },
    );
    expect(result.data).toEqual({ before: { __typename: 'CreateInstancePayload' }, again: { __typename: 'InstanceAlreadyExistsError' } });
  });
});

describe('invalid input', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ config: { createInstancesLimit: 300 } });
  });
  afterAll(() => stack.stop());
  beforeEach(() => stack.resetCalls());

  const big = 'x'.repeat(1024 * 1024);

  it.each([
    ['an empty workflow name', { workflowName: '' }, ['input', 'workflowName']],
    ['a workflow name longer than 64', { workflowName: 'w'.repeat(65) }, ['input', 'workflowName']],
    ['a workflow name with a slash', { workflowName: 'a/b' }, ['input', 'workflowName']],
    ['an instance id starting with "-"', { workflowName: WF, instanceId: '-x' }, ['input', 'instanceId']],
    ['an instance id longer than 100', { workflowName: WF, instanceId: 'i'.repeat(101) }, ['input', 'instanceId']],
    ['a reserved cf_ instance id', { workflowName: WF, instanceId: `cf_${'a1'.repeat(32)}` }, ['input', 'instanceId']],
    ['params over 1 MiB', { workflowName: WF, params: big }, ['input', 'params']],
    ['a malformed retention', { workflowName: WF, retention: { successRetention: 'soon' } }, ['input', 'retention', 'successRetention']],
    ['a negative retention', { workflowName: WF, retention: { errorRetention: '-5' } }, ['input', 'retention', 'errorRetention']],
  ])('refuses %s with InvalidInputError and makes no upstream call', async (_label, input, path) => {
    const result = await stack.graphql(CREATE, { input });
    expect(result.data.createInstance).toMatchObject({ __typename: 'InvalidInputError', path, message: expect.any(String) });
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('accepts params of exactly 1 MiB', async () => {
    // 1 MiB of JSON text: the string's quotes count.
    const result = await stack.graphql(CREATE, { input: { workflowName: WF, params: 'y'.repeat(1024 * 1024 - 2) } });
    expect(result.data.createInstance.__typename).toBe('CreateInstancePayload');
  });

  it.each([
    ['an empty batch', [], ['input', 'instances']],
    ['a batch over the configured limit', Array.from({ length: 301 }, () => ({})), ['input', 'instances']],
    ['an id repeated within the batch', [{ instanceId: 'a' }, { instanceId: 'b' }, { instanceId: 'a' }], ['input', 'instances', '2', 'instanceId']],
    ['a bad item deep in the batch', [{}, {}, {}, { instanceId: 'bad id' }], ['input', 'instances', '3', 'instanceId']],
  ])('refuses %s with InvalidInputError and makes no upstream call', async (_label, instances, path) => {
    const result = await stack.graphql(CREATE_MANY, { input: { workflowName: WF, instances } });
    expect(result.data.createInstances).toMatchObject({ __typename: 'InvalidInputError', path });
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('refuses an unknown location hint through the schema, before any call', async () => {
    const result = await stack.graphql(CREATE, { input: { workflowName: WF, locationHint: 'MOON' } });
    expect(result.errors?.[0]?.message).toMatch(/LocationHint/);
    expect(stack.upstreamCalls()).toBe(0);
  });
});

describe('createInstances', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ config: { upstream: { maxRetries: 0 }, createInstancesLimit: 300 } });
  });
  afterAll(() => stack.stop());
  beforeEach(() => {
    stack.emulator.faults.clear();
    stack.resetCalls();
  });

  it('creates 250 instances in exactly 3 batch calls and answers 250 results in input order', async () => {
    const prefix = freshId('bulk');
    const instances = Array.from({ length: 250 }, (_, i) => ({ instanceId: `${prefix}-${i}`, params: { n: i } }));
    const result = await stack.graphql(CREATE_MANY, { input: { workflowName: WF, instances } });
    expect(result.errors).toBeUndefined();
    const payload = result.data.createInstances;
    expect(payload.__typename).toBe('CreateInstancesPayload');
    expect(payload.createdCount).toBe(250);
    expect(payload.results).toHaveLength(250);
    payload.results.forEach((r: { index: number; instanceId: string; instance: { instanceId: string }; error: unknown }, i: number) => {
      expect(r).toEqual({ index: i, instanceId: `${prefix}-${i}`, recovered: false, instance: { instanceId: `${prefix}-${i}` }, error: null });
    });
    expect(stack.upstreamCalls({ method: 'POST', routeIncludes: '/instances/batch' })).toBe(3);
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(3);
    const last = await stack.graphql(READ, { workflowName: WF, id: `${prefix}-249` });
    expect(last.data.instance.params).toEqual({ n: 249 });
  });

  it('reports ids the batch endpoint skipped as InstanceAlreadyExistsError items', async () => {
    const taken = freshId('taken');
    await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: taken } });
    const fresh = freshId('fresh');
    const result = await stack.graphql(CREATE_MANY, { input: { workflowName: WF, instances: [{ instanceId: fresh }, { instanceId: taken }, {}] } });
    const payload = result.data.createInstances;
    expect(payload.createdCount).toBe(2);
    expect(payload.results[0]).toMatchObject({ index: 0, instanceId: fresh, error: null, instance: { instanceId: fresh } });
    expect(payload.results[1]).toMatchObject({ index: 1, instanceId: taken, instance: null, error: { __typename: 'InstanceAlreadyExistsError', instanceId: taken } });
    expect(payload.results[2]).toMatchObject({ index: 2, error: null });
  });

  it('returns WorkflowNotFoundError for an unknown workflow', async () => {
    const result = await stack.graphql(CREATE_MANY, { input: { workflowName: 'no-such-workflow', instances: [{}] } });
    expect(result.data.createInstances).toMatchObject({ __typename: 'WorkflowNotFoundError', workflowName: 'no-such-workflow' });
  });

  it('recovers a batch whose answer was lost, without sending it twice', async () => {
    stack.emulator.faults.set({ route: /instances\/batch$/, truncate: 1 });
    const prefix = freshId('lost-batch');
    const instances = Array.from({ length: 5 }, (_, i) => ({ instanceId: `${prefix}-${i}`, params: { i } }));
    const result = await stack.graphql(CREATE_MANY, { input: { workflowName: WF, instances } });
    const payload = result.data.createInstances;
    expect(payload.createdCount).toBe(5);
    expect(payload.results.map((r: { recovered: boolean; error: unknown }) => [r.recovered, r.error])).toEqual(Array(5).fill([true, null]));
    expect(stack.upstreamCalls({ method: 'POST' })).toBe(1);
  });
});

describe('rate limits', () => {
  // A 429 makes the client hold back every call until Retry-After has passed, so each test gets its own stack.
  let stack: Stack;
  beforeEach(async () => {
    stack = await startStack({ config: { upstream: { maxRetries: 0 } } });
  });
  afterEach(() => stack.stop());

  it('returns RateLimitedError with retryAfter in seconds when upstream answers 429', async () => {
    stack.emulator.faults.set({ route: CREATE_ROUTE, rateLimitRate: 1 });
    const result = await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: freshId('limited') } });
    expect(result.data.createInstance.__typename).toBe('RateLimitedError');
    expect(result.data.createInstance.retryAfter).toBeGreaterThanOrEqual(1);
    expect(Number.isInteger(result.data.createInstance.retryAfter)).toBe(true);
  });

  it('returns RateLimitedError when the first batch call is refused with 429', async () => {
    stack.emulator.faults.set({ route: /instances\/batch$/, rateLimitRate: 1 });
    const result = await stack.graphql(CREATE_MANY, { input: { workflowName: WF, instances: [{}, {}] } });
    expect(result.data.createInstances).toMatchObject({ __typename: 'RateLimitedError', retryAfter: expect.any(Number) });
  });

});

describe('a create that never reached upstream', () => {
  // A loopback proxy that swallows the next create and resets its connection, so the gateway cannot
  // tell whether it landed; unlike the emulator's faults, it does so exactly once.
  let emulator: Emulator;
  let proxy: Server;
  let app: App;
  let swallowNextCreate = false;

  beforeAll(async () => {
    emulator = await createEmulator({ clock: 'manual' });
    const target = new URL(emulator.url);
    proxy = createServer((req, res) => {
      if (swallowNextCreate && req.method === 'POST' && /\/instances$/.test(req.url ?? '')) {
        swallowNextCreate = false;
        req.resume();
        req.on('end', () => req.socket.destroy());
        return;
      }
      const forwarded = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forwarded.on('error', () => res.destroy());
      req.pipe(forwarded);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    app = createApp(createConfig({ logLevel: 'silent', upstream: { baseUrl: `http://127.0.0.1:${port}${target.pathname}`, maxRetries: 0 } }));
  });
  afterAll(async () => {
    await app.stop();
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    await emulator.stop();
  });

  async function graphql(query: string, variables: Record<string, unknown>) {
    const response = await app.yoga.fetch('http://127.0.0.1/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data: Record<string, { __typename: string; recovered?: boolean; instance?: { instanceId: string; params: unknown } }> };
  }

  it('looks the id up, finds nothing and sends the create again, creating exactly one instance', async () => {
    emulator.requests.reset();
    swallowNextCreate = true;
    const id = freshId('swallowed');
    const result = await graphql(CREATE, { input: { workflowName: WF, instanceId: id, params: { attempt: 'once' } } });
    expect(result.data.createInstance).toMatchObject({ __typename: 'CreateInstancePayload', recovered: true, instance: { instanceId: id, params: { attempt: 'once' } } });
    expect(swallowNextCreate).toBe(false);
    // The swallowed create never reached the emulator; the second one did.
    expect(emulator.requests.count({ method: 'POST' })).toBe(1);
  });
});
