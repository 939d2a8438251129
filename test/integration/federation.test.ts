import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { buildSchema, parse, validate } from 'graphql';
import { createClient } from 'graphql-sse';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createApiKeyAuthenticator } from '../../src/auth/api-keys.js';
import { startGateway, type Gateway } from '../federation/gateway.js';
import { FULFILLMENT_WORKFLOW, startOrdersSubgraph, type Order } from '../federation/orders-subgraph.js';
import { approvePayment, freshId } from '../helpers/instances.js';
import { subscribe } from '../helpers/live.js';
import { readmeBlocks } from '../helpers/readme.js';
import { startStack, type GraphQLResult, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// A supergraph of this server (remote mode against the emulator) and the example `orders` subgraph
// (test/federation/orders-subgraph.ts), composed and served by Hive Gateway in this process.
const ORDERS = 20;
const TERMINATED = 3;
const INSTANCE_READ = 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}';

interface WireInstance {
  readonly status: string;
  readonly steps: readonly { readonly name?: string }[];
}

let stack: Stack;
let orders: Order[];
let ordersSubgraph: { url: string; stop(): Promise<void> };
let gateway: Gateway;

/** The GraphQL enum value of an upstream status (`waitingForPause` is `WAITING_FOR_PAUSE`). */
const enumOf = (status: string): string => status.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
const FINAL = new Set(['complete', 'errored', 'terminated']);

async function throughGateway<T>(
  query: string,
  variables: Record<string, unknown> = {},
  { via = gateway, headers = {} }: { via?: Gateway; headers?: Record<string, string> } = {},
): Promise<GraphQLResult<T>> {
  const response = await fetch(via.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResult<T>;
}

const emulatorInstance = (instanceId: string): Promise<WireInstance> =>
  stack.rest<WireInstance>('GET', `/${FULFILLMENT_WORKFLOW}/instances/${instanceId}`);

beforeAll(async () => {
  stack = await startStack({ listen: true, recordUrls: true, config: { pollIntervalMs: 50 } });
  orders = Array.from({ length: ORDERS }, (_, i) => ({
    id: `order-${i + 1}`,
    total: 10 + i * 2.5,
    instanceId: freshId('fed-order'),
  }));
  await stack.rest(
    'POST',
    `/${FULFILLMENT_WORKFLOW}/instances/batch`,
    orders.map((order) => ({ instance_id: order.instanceId, params: { orderId: order.id } })),
  );
  // A few finished ones, so that `status` and `canTerminate` differ between orders.
  for (const order of orders.slice(-TERMINATED)) {
    await stack.rest('PATCH', `/${FULFILLMENT_WORKFLOW}/instances/${order.instanceId}/status`, { status: 'terminate' });
  }
  ordersSubgraph = await startOrdersSubgraph(orders);
  gateway = await startGateway([
    { name: 'workflows', url: stack.url as string },
    { name: 'orders', url: ordersSubgraph.url },
  ]);
});
afterAll(async () => {
  await gateway?.stop();
  await ordersSubgraph?.stop();
  await stack?.stop();
});

describe('a supergraph with the orders subgraph, through Hive Gateway', () => {
  it("validates the README's supergraph operations (its gql blocks) against the composed supergraph", async () => {
    const blocks = await readmeBlocks('gql');
    expect(blocks.length).toBeGreaterThan(0);
    const supergraph = buildSchema(gateway.publicSdl);
    for (const block of blocks) expect(validate(supergraph, parse(block)).map((e) => e.message)).toEqual([]);
  });

  it("answers 20 orders with their fulfillment's status, steps and canTerminate in 20 full-details calls", async () => {
    stack.resetCalls();
    stack.sentUrls.length = 0;
    const result = await throughGateway<{
      orders: {
        id: string;
        total: number;
        fulfillment: { instanceId: string; status: string; canTerminate: boolean; steps: { name?: string }[] };
      }[];
    }>(`{ orders { id total fulfillment { instanceId status canTerminate steps { ... on NamedStep { name } } } } }`);
    // Counted before the checks below read the emulator themselves.
    const calls = stack.upstreamCalls();
    const instanceReads = stack.upstreamCalls({ route: INSTANCE_READ });
    const simpleReads = stack.sentUrls.filter((url) => url.includes('simple=true'));

    expect(result.errors).toBeUndefined();
    expect(calls).toBe(ORDERS);
    expect(instanceReads).toBe(ORDERS);
    expect(simpleReads).toEqual([]);

    const expected = await Promise.all(
      orders.map(async (order) => {
        const wire = await emulatorInstance(order.instanceId);
        return {
          id: order.id,
          total: order.total,
          fulfillment: {
            instanceId: order.instanceId,
            status: enumOf(wire.status),
            canTerminate: !FINAL.has(wire.status),
            // A termination entry has no name: it is not a NamedStep, so the fragment selects nothing on it.
            steps: wire.steps.map((step) => (step.name === undefined ? {} : { name: step.name })),
          },
        };
      }),
    );
    expect(result.data?.orders).toEqual(expected);
    // Not all alike: the terminated ones cannot be terminated again.
    expect(result.data?.orders.filter((o) => o.fulfillment.canTerminate)).toHaveLength(ORDERS - TERMINATED);
  });

  it('terminates an instance with `terminateInstance`, and the payload reaches into the orders subgraph', async () => {
    const order = orders[0]!;
    const result = await throughGateway<{
      terminateInstance: { __typename: string; instance?: { status: string; order: { id: string; total: number } } };
    }>(
      `mutation Terminate($workflowName: String!, $instanceId: String!) {
        terminateInstance(input: { workflowName: $workflowName, instanceId: $instanceId }) {
          __typename
          ... on TerminateInstancePayload { instance { status order { id total } } }
        }
      }`,
      { workflowName: FULFILLMENT_WORKFLOW, instanceId: order.instanceId },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.terminateInstance).toEqual({
      __typename: 'TerminateInstancePayload',
      instance: { status: 'TERMINATED', order: { id: order.id, total: order.total } },
    });
    expect((await emulatorInstance(order.instanceId)).status).toBe('terminated');
  });

  it("streams an order's fulfillment WAITING → COMPLETE after sendInstanceEvent, with Order.total in each event", async () => {
    const order = orders[1]!;
    type StatusEvent = {
      instanceStatusChanged: { status: string; instance: { instanceId: string; order: { id: string; total: number } } };
    };
    const document = parse(`subscription Fulfillment($workflowName: String!, $instanceId: String!) {
      instanceStatusChanged(workflowName: $workflowName, instanceId: $instanceId) {
        status
        instance { instanceId order { id total } }
      }
    }`) as TypedDocumentNode<StatusEvent, { workflowName: string; instanceId: string }>;
    const client = createClient({ url: gateway.url, retryAttempts: 0 });
    const sub = subscribe(client, document, { workflowName: FULFILLMENT_WORKFLOW, instanceId: order.instanceId });
    const statuses = (): string[] => sub.results.flatMap((r) => (r.data ? [r.data.instanceStatusChanged.status] : []));
    try {
      await waitFor(() => statuses().length > 0, { message: 'the first event through the gateway' });
      expect(statuses()).toEqual(['WAITING']);
      // Through the one-minute cool-off to the event wait, then release it.
      await stack.emulator.clock.advance(61_000);
      await approvePayment(stack, order.instanceId);
      await waitFor(() => sub.done, { message: 'the subscription to complete after COMPLETE' });
    } finally {
      client.dispose();
    }
    expect(sub.error).toBeUndefined();
    expect(statuses()[0]).toBe('WAITING');
    expect(statuses().at(-1)).toBe('COMPLETE');
    for (const result of sub.results) {
      expect(result.errors).toBeUndefined();
      expect(result.data?.instanceStatusChanged.instance).toEqual({
        instanceId: order.instanceId,
        order: { id: order.id, total: order.total },
      });
    }
  });
});

describe('a supergraph where an order names an instance that does not exist', () => {
  const present: Order = { id: 'order-present', total: 7, instanceId: freshId('fed-present') };
  const missing: Order = { id: 'order-missing', total: 9, instanceId: freshId('fed-missing') };
  let subgraph: { url: string; stop(): Promise<void> };
  let missingGateway: Gateway;

  beforeAll(async () => {
    await stack.rest('POST', `/${FULFILLMENT_WORKFLOW}/instances`, { instance_id: present.instanceId });
    subgraph = await startOrdersSubgraph([present, missing]);
    missingGateway = await startGateway([
      { name: 'workflows', url: stack.url as string },
      { name: 'orders', url: subgraph.url },
    ]);
  });
  afterAll(async () => {
    await missingGateway?.stop();
    await subgraph?.stop();
  });

  it('answers that order with a null fulfillment and an error at its path only, and resolves the other orders', async () => {
    const result = await throughGateway(
      '{ orders { id total fulfillment { instanceId status } } }',
      {},
      { via: missingGateway },
    );
    expect(result.data).toEqual({
      orders: [
        { id: present.id, total: present.total, fulfillment: { instanceId: present.instanceId, status: 'WAITING' } },
        { id: missing.id, total: missing.total, fulfillment: null },
      ],
    });
    // This subgraph answers the unknown entity null without an error (federation-entities.test.ts); the gateway
    // then reports its own error where the missing entity's non-null `status` was selected, and only there.
    expect(result.errors?.map((e) => e.path?.join('.'))).toEqual(['orders.1.fulfillment.status']);
  });
});

describe('a supergraph in front of this server with API keys', () => {
  const reader = createApiKey({ id: 'reader', scopes: ['workflows:read'] });
  const otherWorkflow = createApiKey({ id: 'other-workflow', scopes: ['workflows:read'], workflows: ['flaky-import'] });
  const securedOrders: Order[] = [{ id: 'order-secured', total: 42, instanceId: freshId('fed-secured') }];
  const query = '{ orders { id total fulfillment { instanceId status } } }';
  let dir: string;
  let secured: Stack;
  let securedSubgraph: { url: string; stop(): Promise<void> };
  let securedGateway: Gateway;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wfgql-federation-keys-'));
    const keysFile = join(dir, 'keys.json');
    await writeFile(keysFile, JSON.stringify([reader.entry, otherWorkflow.entry]));
    secured = await startStack({ listen: true, authenticator: await createApiKeyAuthenticator(keysFile) });
    await secured.rest('POST', `/${FULFILLMENT_WORKFLOW}/instances`, { instance_id: securedOrders[0]!.instanceId });
    securedSubgraph = await startOrdersSubgraph(securedOrders);
    securedGateway = await startGateway(
      [
        { name: 'workflows', url: secured.url as string, headers: { authorization: `Bearer ${reader.key}` } },
        { name: 'orders', url: securedSubgraph.url },
      ],
      { forwardHeaders: ['authorization'] },
    );
  });
  afterAll(async () => {
    await securedGateway?.stop();
    await securedSubgraph?.stop();
    await secured?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("applies each client's own key to the entities the gateway fetches: FORBIDDEN without the workflow, and no upstream call", async () => {
    const order = securedOrders[0]!;
    secured.resetCalls();
    const refused = await throughGateway<{ orders: { id: string; fulfillment: unknown }[] }>(
      query,
      {},
      { via: securedGateway, headers: { authorization: `Bearer ${otherWorkflow.key}` } },
    );
    expect(refused.data?.orders).toEqual([{ id: order.id, total: order.total, fulfillment: null }]);
    expect(refused.errors?.map((e) => e.extensions?.['code'])).toContain('FORBIDDEN');
    expect(secured.upstreamCalls()).toBe(0);

    const allowed = await throughGateway(
      query,
      {},
      {
        via: securedGateway,
        headers: { authorization: `Bearer ${reader.key}` },
      },
    );
    expect(allowed.errors).toBeUndefined();
    expect(allowed.data).toEqual({
      orders: [{ id: order.id, total: order.total, fulfillment: { instanceId: order.instanceId, status: 'WAITING' } }],
    });
    expect(secured.upstreamCalls()).toBe(1);
  });
});
