import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createApiKey, createApiKeyAuthenticator } from '../../src/auth/api-keys.js';
import { createCloudflareTokenAuthenticator } from '../../src/auth/cloudflare-token.js';
import {
  SharedStatusBadgeDocument as BADGE,
  SharedStatusMaybeParamsDocument as MAYBE_PARAMS,
  SharedStatusWithParamsDocument as WITH_PARAMS,
  SharedStatusWithWorkflowDocument as WITH_WORKFLOW,
  InstanceUpdatedDocument as UPDATED,
  WriteCreateInstanceDocument as CREATE,
  WritePauseInstanceDocument as PAUSE,
  type SharedStatusMaybeParamsSubscription,
} from '../generated/operations.js';
import { expectData, expectTypename } from '../helpers/graphql.js';
import { createInstance } from '../helpers/instances.js';
import { subscribe, wsClient, type CollectedSubscription, type SubscriptionClient } from '../helpers/live.js';
import { scrape, type Scrape } from '../helpers/metrics.js';
import { startStack, type Stack, type StackOptions } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// Issue 17, "Shared subscription execution": one execution per event and group of subscribers with the same document,
// variables, credential and authorization (src/subscriptions/shared-execution.ts), whose result each of them gets.
// Executions are counted by `wfgql_live_executions_total`, deliveries by `wfgql_live_events_delivered_total`.

const WORKFLOW = 'order-fulfillment';
/** Ten minutes between polls: every event after the first comes from a mutation's push, never from a poll. */
const POLL_MS = 600_000;
const EXECUTIONS = 'wfgql_live_executions_total';
const DELIVERED = 'wfgql_live_events_delivered_total';
/** A workflow's own record: read by `Workflow.className`, never by a poll. */
const WORKFLOW_RECORD = /\/workflows\/[^/]+$/;

const sseClients: SseClient[] = [];
afterEach(() => {
  for (const client of sseClients.splice(0)) client.dispose();
});

/** A graphql-sse client of the stack: distinct connections on /graphql, or one connection on /graphql/stream. */
function sseClient(stack: Stack, singleConnection: boolean): SubscriptionClient {
  const url = stack.url as string;
  const client = createSseClient({
    url: singleConnection ? url.replace(/\/graphql$/, '/graphql/stream') : url,
    singleConnection,
    retryAttempts: 0,
  });
  sseClients.push(client);
  return client;
}

function liveStack(options: StackOptions = {}): Promise<Stack> {
  return startStack({
    listen: true,
    ...options,
    config: { pollIntervalMs: POLL_MS, upstream: { maxRetries: 0 }, ...options.config },
  });
}

const metricsOf = (stack: Stack, headers: Record<string, string> = {}): Promise<Scrape> =>
  scrape((stack.url ?? '').replace(/\/graphql$/, '/metrics'), headers);

/** `count` subscriptions to one instance with one document, each collecting its results. */
function many<T, V>(
  clients: readonly SubscriptionClient[],
  count: number,
  document: TypedDocumentNode<T, V>,
  instanceId: string,
): CollectedSubscription<T>[] {
  return Array.from({ length: count }, (_, k) =>
    subscribe(clients[k % clients.length] as SubscriptionClient, document, {
      workflowName: WORKFLOW,
      instanceId,
    } as V & { workflowName: string; instanceId: string }),
  );
}

const eachHas = (subs: readonly CollectedSubscription<unknown>[], events: number) =>
  subs.every((sub) => sub.results.length === events);

async function pause(stack: Stack, instanceId: string, headers?: Record<string, string>): Promise<void> {
  const result = await stack.graphql(PAUSE, { input: { workflowName: WORKFLOW, instanceId } }, headers);
  expectTypename(expectData(result).pauseInstance, 'PauseInstancePayload');
}

describe('shared subscription execution', () => {
  it('executes each event once for 12 subscribers with one document and variables, over graphql-ws and both SSE modes, and sends each the same events', async () => {
    const stack = await liveStack();
    await createInstance(stack, WORKFLOW, 'shared-1', { orderId: 'shared-1' });
    const clients = [wsClient(stack), wsClient(stack), sseClient(stack, false), sseClient(stack, true)];
    const subs = many(clients, 12, WITH_PARAMS, 'shared-1');
    await waitFor(() => eachHas(subs, 1), { message: 'every first event' });
    const before = await metricsOf(stack);
    // Each subscriber joined the loop on its own, but all saw the same state: one execution for the 12 first events.
    expect(before.value(EXECUTIONS)).toBe(1);

    await pause(stack, 'shared-1');
    await waitFor(() => eachHas(subs, 2), { message: 'every PAUSED event' });
    const after = await metricsOf(stack);

    expect(after.value(EXECUTIONS) - before.value(EXECUTIONS)).toBe(1);
    expect(after.value(DELIVERED) - before.value(DELIVERED)).toBe(12);
    const expected = [
      { data: { instanceStatusChanged: { status: 'WAITING', previousStatus: null, instance: expect.anything() } } },
      { data: { instanceStatusChanged: { status: 'PAUSED', previousStatus: 'WAITING', instance: expect.anything() } } },
    ];
    expect(subs[0]?.results).toMatchObject(expected);
    expect(subs[0]?.results[1]?.data?.instanceStatusChanged?.instance).toEqual({
      instanceId: 'shared-1',
      params: { orderId: 'shared-1' },
    });
    for (const sub of subs) expect(sub.results).toEqual(subs[0]?.results);
  });

  it('executes each instanceUpdated event once for its subscribers too', async () => {
    const stack = await liveStack();
    await createInstance(stack, WORKFLOW, 'shared-updates');
    const subs = many([wsClient(stack), sseClient(stack, false)], 6, UPDATED, 'shared-updates');
    await waitFor(() => eachHas(subs, 1), { message: 'every first event' });
    const before = await metricsOf(stack);

    await pause(stack, 'shared-updates');
    await waitFor(() => eachHas(subs, 2), { message: 'every PAUSED update' });
    const after = await metricsOf(stack);

    expect(before.value(EXECUTIONS)).toBe(1);
    expect(after.value(EXECUTIONS) - before.value(EXECUTIONS)).toBe(1);
    expect(subs[0]?.results.map((r) => r.data?.instanceUpdated?.status)).toEqual(['WAITING', 'PAUSED']);
    for (const sub of subs) expect(sub.results).toEqual(subs[0]?.results);
  });

  it('executes apart, and answers apart, for another document or other variables', async () => {
    const stack = await liveStack();
    await createInstance(stack, WORKFLOW, 'shared-a', { orderId: 'shared-a' });
    await createInstance(stack, WORKFLOW, 'shared-b', { orderId: 'shared-b' });
    const clients = [wsClient(stack), sseClient(stack, false)];
    const maybeParams = (instanceId: string, withParams: boolean) =>
      Array.from({ length: 3 }, (_, k) =>
        subscribe(clients[k % clients.length] as SubscriptionClient, MAYBE_PARAMS, {
          workflowName: WORKFLOW,
          instanceId,
          withParams,
        }),
      );
    const badgesOfA = many(clients, 3, BADGE, 'shared-a');
    const paramsOfA = maybeParams('shared-a', true);
    const keysOfA = maybeParams('shared-a', false);
    const paramsOfB = maybeParams('shared-b', true);
    const all = [...badgesOfA, ...paramsOfA, ...keysOfA, ...paramsOfB];
    await waitFor(() => eachHas(all, 1), { message: 'every first event' });
    const before = await metricsOf(stack);

    await pause(stack, 'shared-a');
    await pause(stack, 'shared-b');
    await waitFor(() => eachHas(all, 2), { message: 'every PAUSED event' });
    const after = await metricsOf(stack);

    // Instance a: one execution per document and variables (three); instance b: one.
    expect(after.value(EXECUTIONS) - before.value(EXECUTIONS)).toBe(4);
    expect(after.value(DELIVERED) - before.value(DELIVERED)).toBe(12);
    for (const sub of badgesOfA) {
      expect(sub.results.map((r) => r.data?.instanceStatusChanged)).toEqual([
        { status: 'WAITING', previousStatus: null },
        { status: 'PAUSED', previousStatus: 'WAITING' },
      ]);
    }
    const instancesOf = (sub: CollectedSubscription<SharedStatusMaybeParamsSubscription>) =>
      sub.results.map((r) => r.data?.instanceStatusChanged?.instance);
    for (const sub of paramsOfA)
      expect(instancesOf(sub)).toEqual(Array(2).fill({ instanceId: 'shared-a', params: { orderId: 'shared-a' } }));
    for (const sub of keysOfA) expect(instancesOf(sub)).toEqual(Array(2).fill({ instanceId: 'shared-a' }));
    for (const sub of paramsOfB)
      expect(instancesOf(sub)).toEqual(Array(2).fill({ instanceId: 'shared-b', params: { orderId: 'shared-b' } }));
  });

  it("keeps one group's execution error in that group: the other group on the same instance gets clean events", async () => {
    let failWorkflowReads = true;
    const stack = await liveStack({
      interceptUpstream: ({ method, path }) =>
        failWorkflowReads && method === 'GET' && WORKFLOW_RECORD.test(path) ? 'drop' : 'forward',
    });
    await createInstance(stack, WORKFLOW, 'shared-err', { orderId: 'shared-err' });
    const clients = [wsClient(stack), sseClient(stack, false)];
    const failing = many(clients, 3, WITH_WORKFLOW, 'shared-err');
    const clean = many(clients, 3, WITH_PARAMS, 'shared-err');
    await waitFor(() => eachHas([...failing, ...clean], 1), { message: 'every first event' });
    failWorkflowReads = false;

    const [first] = failing;
    const error = first?.results[0]?.errors?.[0];
    expect(error?.path).toEqual(['instanceStatusChanged', 'instance', 'workflow', 'className']);
    expect(typeof error?.extensions?.['code']).toBe('string');
    // Every member of the failing group got that error, and nothing else.
    for (const sub of failing) expect(sub.results).toEqual(first?.results);
    for (const sub of clean) {
      expect(sub.results[0]?.errors).toBeUndefined();
      expect(sub.results[0]?.data?.instanceStatusChanged?.instance?.params).toEqual({ orderId: 'shared-err' });
    }
  });

  it('lets subscribers leave while their group’s event is being executed: the one that stays gets that execution’s result, and the next', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let heldReads = 0;
    const stack = await liveStack({
      interceptUpstream: ({ method, path }) => {
        if (method !== 'GET' || !WORKFLOW_RECORD.test(path)) return 'forward';
        heldReads++;
        return { holdAnswerUntil: held };
      },
    });
    await createInstance(stack, WORKFLOW, 'shared-leave');
    const open = () =>
      subscribe(wsClient(stack), WITH_WORKFLOW, { workflowName: WORKFLOW, instanceId: 'shared-leave' });
    // One client per subscriber, so that each one's leaving is its own.
    const leaving = [open(), open(), open()];
    await waitFor(() => heldReads === 1 && stack.app.live.stats().subscribers === 3, {
      message: 'the first event to be executing for the group, held on its workflow read',
    });
    // Joins while the group's execution of the same event is under way.
    const stays = open();
    await waitFor(() => stack.app.live.stats().subscribers === 4, { message: 'the fourth subscriber to join' });
    for (const sub of leaving) sub.unsubscribe();
    await waitFor(() => stack.app.live.stats().subscribers === 1, { message: 'three subscribers to leave' });
    release();

    await waitFor(() => stays.results.length === 1, { message: "the staying subscriber's first event" });
    // The execution that the subscriber who left began is the group's: the one that stays gets its result.
    expect((await metricsOf(stack)).value(EXECUTIONS)).toBe(1);
    expect(leaving.every((sub) => sub.results.length === 0)).toBe(true);
    await pause(stack, 'shared-leave');
    await waitFor(() => stays.results.length === 2, { message: "the staying subscriber's PAUSED event" });
    expect(stays.error).toBeUndefined();
    expect(stays.results.map((r) => r.errors)).toEqual([undefined, undefined]);
    expect(stays.results.map((r) => r.data?.instanceStatusChanged)).toEqual([
      {
        status: 'WAITING',
        instance: { instanceId: 'shared-leave', workflow: { name: WORKFLOW, className: expect.any(String) } },
      },
      {
        status: 'PAUSED',
        instance: { instanceId: 'shared-leave', workflow: { name: WORKFLOW, className: expect.any(String) } },
      },
    ]);
  });

  it('shares between API keys with the same scopes and workflows, not with a key whose allowlist differs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wfgql-shared-execution-'));
    try {
      const scopes = ['workflows:read', 'workflows:write'] as const;
      const first = createApiKey({ id: 'first', scopes, workflows: [WORKFLOW] });
      const second = createApiKey({ id: 'second', scopes, workflows: [WORKFLOW] });
      const wider = createApiKey({ id: 'wider', scopes, workflows: ['order-*'] });
      // Reading the metrics takes a key without an allowlist.
      const operator = createApiKey({ id: 'operator', scopes: ['workflows:read'] });
      const keysFile = join(dir, 'keys.json');
      await writeFile(keysFile, JSON.stringify([first.entry, second.entry, wider.entry, operator.entry]));
      const stack = await liveStack({ authenticator: await createApiKeyAuthenticator(keysFile) });
      const auth = (key: string) => ({ authorization: `Bearer ${key}` });
      await stack.rest('POST', `/${WORKFLOW}/instances`, { instance_id: 'shared-keys' });
      const subsOf = (key: string) =>
        many([wsClient(stack, undefined, auth(key)), wsClient(stack, undefined, auth(key))], 2, BADGE, 'shared-keys');
      const sameAuthorization = [...subsOf(first.key), ...subsOf(second.key)];
      const otherAllowlist = subsOf(wider.key);
      const all = [...sameAuthorization, ...otherAllowlist];
      await waitFor(() => eachHas(all, 1), { message: 'every first event' });
      const before = await metricsOf(stack, auth(operator.key));

      await pause(stack, 'shared-keys', auth(first.key));
      await waitFor(() => eachHas(all, 2), { message: 'every PAUSED event' });
      const after = await metricsOf(stack, auth(operator.key));

      // One execution for `first` and `second` (same scopes, same workflows), one for `wider`.
      expect(after.value(EXECUTIONS) - before.value(EXECUTIONS)).toBe(2);
      expect(after.value(DELIVERED) - before.value(DELIVERED)).toBe(6);
      for (const sub of all) {
        expect(sub.results.map((r) => r.data?.instanceStatusChanged)).toEqual([
          { status: 'WAITING', previousStatus: null },
          { status: 'PAUSED', previousStatus: 'WAITING' },
        ]);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("never sends one tenant's result to another: two Cloudflare credentials watching one instance id execute apart", async () => {
    const tenants = [
      { name: 'A', token: 'tenant-a-cloudflare-token-000000000000000', accountId: 'a'.repeat(32) },
      { name: 'B', token: 'tenant-b-cloudflare-token-000000000000000', accountId: 'b'.repeat(32) },
    ] as const;
    const stack = await liveStack({
      emulator: {
        tokens: Object.fromEntries(tenants.map((t) => [t.token, { accounts: [t.accountId], write: true }])),
      },
      authenticator: createCloudflareTokenAuthenticator(''),
      config: {
        auth: { mode: 'cloudflare-token' },
        upstream: { apiToken: 'server-own-token-never-valid-upstream-0000', accountId: tenants[0].accountId },
      },
    });
    const headersOf = (t: (typeof tenants)[number]) => ({
      authorization: `Bearer ${t.token}`,
      'x-cloudflare-account-id': t.accountId,
    });
    const subsOf = await Promise.all(
      tenants.map(async (tenant) => {
        const input = { workflowName: WORKFLOW, instanceId: 'same-id', params: { tenant: tenant.name } };
        const created = await stack.graphql(print(CREATE), { input }, headersOf(tenant));
        expect(created.errors).toBeUndefined();
        const client = wsClient(stack, undefined, headersOf(tenant));
        return many([client], 3, WITH_PARAMS, 'same-id');
      }),
    );
    const all = subsOf.flat();
    await waitFor(() => eachHas(all, 1), { message: 'every first event' });
    for (const tenant of tenants) await pause(stack, 'same-id', headersOf(tenant));
    await waitFor(() => eachHas(all, 2), { message: 'every PAUSED event' });

    tenants.forEach((tenant, k) => {
      for (const sub of subsOf[k] ?? []) {
        expect(sub.results.map((r) => r.data?.instanceStatusChanged?.instance)).toEqual(
          Array(2).fill({ instanceId: 'same-id', params: { tenant: tenant.name } }),
        );
      }
    });
  });
});
