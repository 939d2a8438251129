import { print } from 'graphql';
import { createClient } from 'graphql-sse';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { InstanceStatusChangedDocument as STATUS } from '../generated/operations.js';
import { createInstance } from '../helpers/instances.js';
import { subscribe } from '../helpers/live.js';
import { startStack, type GraphQLResult, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const WORKFLOW = 'order-fulfillment';

const streamUrl = (stack: Stack): string => `${stack.url as string}/stream`;

/** Clients on two loopback addresses, so that reservations can be counted per client address. */
const agents = { first: new Agent(), second: new Agent({ localAddress: '127.0.0.2' }) };
afterAll(async () => {
  await Promise.all([agents.first.close(), agents.second.close()]);
});

/** `PUT /graphql/stream` from one client address: the status, and the token or the error codes. */
async function reserve(
  stack: Stack,
  from: keyof typeof agents = 'first',
): Promise<{ status: number; token: string; body: GraphQLResult<never> | null; retryAfter: string | null }> {
  const response = await undiciFetch(streamUrl(stack), { method: 'PUT', dispatcher: agents[from] });
  const text = await response.text();
  return {
    status: response.status,
    token: response.status === 201 ? text : '',
    body: response.status === 201 ? null : (JSON.parse(text) as GraphQLResult<never>),
    retryAfter: response.headers.get('retry-after'),
  };
}

/** POSTs one operation to a reserved stream. */
function sendOperation(stack: Stack, token: string, operationId: string, variables: Record<string, unknown>) {
  return fetch(streamUrl(stack), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-graphql-event-stream-token': token },
    body: JSON.stringify({ query: print(STATUS), variables, extensions: { operationId } }),
  });
}

const codes = (result: { errors?: readonly { extensions?: Record<string, unknown> }[] } | null | undefined) =>
  result?.errors?.map((e) => e.extensions?.['code']) ?? [];

describe('graphql-sse single-connection mode: limits', () => {
  it('holds MAX_SUBSCRIPTIONS_PER_CONNECTION on one stream when subscribes are pipelined', async () => {
    const stack = await startStack({
      listen: true,
      config: { pollIntervalMs: 50, maxSubscriptionsPerConnection: 10 },
    });
    await createInstance(stack, WORKFLOW, 'sse-pipelined-1');
    const client = createClient({ url: streamUrl(stack), singleConnection: true, retryAttempts: 0 });
    try {
      // 40 subscribes at once: graphql-sse's client POSTs them concurrently on its one stream.
      const subs = Array.from({ length: 40 }, () =>
        subscribe(client, STATUS, { workflowName: WORKFLOW, instanceId: 'sse-pipelined-1' }),
      );
      await waitFor(() => subs.every((s) => s.results.length > 0 || s.done), {
        message: 'an answer to every subscribe',
      });
      const accepted = subs.filter((s) => s.results[0]?.data);
      const refused = subs.filter((s) => codes(s.results[0]).includes('SUBSCRIPTION_LIMIT'));
      expect(accepted).toHaveLength(10);
      expect(refused).toHaveLength(30);
      expect(refused[0]?.results[0]?.errors?.[0]?.extensions).toEqual({
        code: 'SUBSCRIPTION_LIMIT',
        limit: 10,
        scope: 'connection',
      });
      expect(stack.app.live.stats().subscribers).toBe(10);

      // A completed subscription gives its slot back.
      accepted[0]?.unsubscribe();
      await waitFor(() => stack.app.live.stats().subscribers === 9, { message: 'the unsubscribe' });
      const next = subscribe(client, STATUS, { workflowName: WORKFLOW, instanceId: 'sse-pipelined-1' });
      await waitFor(() => next.results.length > 0 || next.done, { message: 'the answer to one more subscribe' });
      expect(next.results[0]?.data).toBeTruthy();
    } finally {
      client.dispose();
    }
  });

  it('drops a reservation that is never opened after SSE_RESERVATION_TIMEOUT_MS, and ends its operations', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: 50, sseReservationTimeoutMs: 200 } });
    await createInstance(stack, WORKFLOW, 'sse-expiry-1');
    const { status, token } = await reserve(stack);
    expect(status).toBe(201);
    // graphql-sse accepts operations for a stream that is not open yet, and runs them.
    const accepted = await sendOperation(stack, token, 'op-1', { workflowName: WORKFLOW, instanceId: 'sse-expiry-1' });
    expect(accepted.status).toBe(202);
    await waitFor(() => stack.app.live.stats().subscribers === 1, { message: 'the subscription to start' });

    await waitFor(() => stack.app.live.stats().subscribers === 0, {
      message: 'the unopened reservation to expire with its subscription',
    });
    const late = await fetch(streamUrl(stack), {
      headers: { accept: 'text/event-stream', 'x-graphql-event-stream-token': token },
    });
    expect(late.status).toBe(404);
    expect(codes((await late.json()) as GraphQLResult<never>)).toEqual(['NOT_FOUND']);
  });

  it('caps unopened reservations per client address (MAX_SSE_RESERVATIONS_PER_CLIENT) and in total (MAX_SSE_RESERVATIONS)', async () => {
    const stack = await startStack({
      listen: true,
      config: { maxSseReservationsPerClient: 3, maxSseReservations: 5 },
    });
    // Pipelined: every PUT is on its way before the first is answered.
    const first = await Promise.all(Array.from({ length: 10 }, () => reserve(stack, 'first')));
    expect(first.filter((r) => r.status === 201)).toHaveLength(3);
    const refusedFirst = first.filter((r) => r.status === 429);
    expect(refusedFirst).toHaveLength(7);
    expect(refusedFirst[0]?.body?.errors?.[0]?.extensions).toEqual({
      code: 'STREAM_RESERVATION_LIMIT',
      limit: 3,
      scope: 'client',
    });
    expect(Number(refusedFirst[0]?.retryAfter)).toBeGreaterThanOrEqual(1);

    // Another address has its own share, until the server's total is reached.
    const second = await Promise.all(Array.from({ length: 10 }, () => reserve(stack, 'second')));
    expect(second.filter((r) => r.status === 201)).toHaveLength(2);
    expect(second.filter((r) => r.status === 429).map((r) => r.body?.errors?.[0]?.extensions)).toEqual(
      Array.from({ length: 8 }, () => ({ code: 'STREAM_RESERVATION_LIMIT', limit: 5, scope: 'server' })),
    );

    // An opened stream is no longer a reservation: its slot is free again.
    const token = first.find((r) => r.status === 201)?.token ?? '';
    const controller = new AbortController();
    const opened = await fetch(streamUrl(stack), {
      headers: { accept: 'text/event-stream', 'x-graphql-event-stream-token': token },
      signal: controller.signal,
    });
    expect(opened.status).toBe(200);
    try {
      expect((await reserve(stack, 'first')).status).toBe(201);
      expect((await reserve(stack, 'first')).status).toBe(429);
    } finally {
      controller.abort();
    }
  });
});
