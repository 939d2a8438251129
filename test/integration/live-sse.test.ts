import { print } from 'graphql';
import { createClient } from 'graphql-sse';
import { describe, expect, it } from 'vitest';
import {
  InstanceStatusChangedDocument as STATUS,
  type InstanceStatusChangedSubscription,
} from '../generated/operations.js';
import { expectPresent } from '../helpers/graphql.js';
import { approvePayment, createInstance } from '../helpers/instances.js';
import { subscribe, UNKNOWN_WATCHES } from '../helpers/live.js';
import { startStack, type GraphQLResult, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const WORKFLOW = 'order-fulfillment';

type StatusEvent = NonNullable<InstanceStatusChangedSubscription['instanceStatusChanged']>;

/** Drives an instance to its event wait, then releases it with `sendInstanceEvent`. */
async function release(stack: Stack, instanceId: string, waiting: () => boolean): Promise<void> {
  await stack.emulator.clock.advance(61_000);
  await waitFor(waiting, { message: 'the WAITING status' });
  await approvePayment(stack, instanceId);
}

/** Reads a `text/event-stream` response to its end, handing each message's event name and data to `onMessage`. */
async function readEvents(
  response: Response,
  onMessage: (message: { event: string; data: string }) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(message)?.[1];
      if (event) onMessage({ event, data: /^data: (.*)$/m.exec(message)?.[1] ?? '' });
    }
  }
}

function expectLifecycle(events: StatusEvent[]): void {
  expect(events[0]?.previousStatus).toBeNull();
  expect(events.at(-1)?.status).toBe('COMPLETE');
  expect(events.map((e) => e.status)).toContain('WAITING');
  for (let i = 1; i < events.length; i++) expect(events[i]?.previousStatus).toBe(events[i - 1]?.status);
}

describe('subscriptions over SSE', () => {
  it.each(UNKNOWN_WATCHES)(
    'answers $what with one null event and completes, as over graphql-ws and as queries answer null',
    async (watch) => {
      const stack = await startStack({ listen: true, config: { pollIntervalMs: 50 } });
      const client = createClient({ url: stack.url as string, retryAttempts: 0 });
      try {
        const sub = watch.open(client);
        await waitFor(() => sub.done, { message: 'the subscription to end' });
        expect(sub.error).toBeUndefined();
        expect(sub.results).toEqual([{ data: { [watch.field]: null } }]);
      } finally {
        client.dispose();
      }
    },
  );

  it('streams an instance to COMPLETE in the graphql-sse single-connection mode at /graphql/stream', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: 50 } });
    await createInstance(stack, WORKFLOW, 'sse-single-1');
    const client = createClient({ url: `${stack.url as string}/stream`, singleConnection: true, retryAttempts: 0 });
    const sub = subscribe(client, STATUS, { workflowName: WORKFLOW, instanceId: 'sse-single-1' });
    const events = (): StatusEvent[] =>
      sub.results.flatMap((r) => (r.data?.instanceStatusChanged ? [r.data.instanceStatusChanged] : []));
    try {
      await waitFor(() => events().length > 0, { message: 'the first event' });
      await release(stack, 'sse-single-1', () => events().at(-1)?.status === 'WAITING');
      await waitFor(() => sub.done, { message: 'completion' });
    } finally {
      client.dispose();
    }
    expect(sub.error).toBeUndefined();
    expect(sub.results.every((r) => r.data)).toBe(true);
    expectLifecycle(events());
  });

  it('streams an instance to COMPLETE in the distinct-connections mode (fetch with Accept: text/event-stream)', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: 50 } });
    await createInstance(stack, WORKFLOW, 'sse-distinct-1');
    const controller = new AbortController();
    const response = await fetch(stack.url as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        query: print(STATUS),
        variables: { workflowName: WORKFLOW, instanceId: 'sse-distinct-1' },
      }),
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: StatusEvent[] = [];
    let completed = false;
    const reading = readEvents(response, ({ event, data }) => {
      if (event === 'next' && data)
        events.push(
          expectPresent(
            (JSON.parse(data) as { data: InstanceStatusChangedSubscription }).data.instanceStatusChanged,
            'a status event',
          ),
        );
      if (event === 'complete') completed = true;
    });
    try {
      await waitFor(() => events.length > 0, { message: 'the first event' });
      await release(stack, 'sse-distinct-1', () => events.at(-1)?.status === 'WAITING');
      await waitFor(() => completed, { message: 'the complete event' });
      await reading;
    } finally {
      controller.abort();
    }
    expectLifecycle(events);
    expect(stack.app.live.stats().subscribers).toBe(0);
  });

  it('ends an SSE subscription on shutdown with a SHUTTING_DOWN error before completing, unlike a finished instance', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: 50 } });
    await createInstance(stack, WORKFLOW, 'sse-stop-1');
    const response = await fetch(stack.url as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: print(STATUS), variables: { workflowName: WORKFLOW, instanceId: 'sse-stop-1' } }),
    });
    const messages: { event: string; data: string }[] = [];
    const reading = readEvents(response, (message) => messages.push(message));
    await waitFor(() => messages.some((m) => m.event === 'next'), { message: 'the first event' });
    await stack.stop();
    await reading;
    const nexts = messages.filter((m) => m.event === 'next').map((m) => JSON.parse(m.data) as GraphQLResult<unknown>);
    expect(nexts.at(-1)?.errors?.map((e) => e.extensions?.['code'])).toEqual(['SHUTTING_DOWN']);
    expect(messages.at(-1)?.event).toBe('complete');
  });

  it('answers unparsable GraphQL on /graphql/stream with 400 GRAPHQL_PARSE_FAILED, as /graphql does', async () => {
    const stack = await startStack({ listen: true });
    const response = await fetch(`${stack.url as string}/stream?query=${encodeURIComponent('{ x')}`, {
      headers: { accept: 'text/event-stream' },
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      errors: [{ message: 'Syntax Error: Expected Name, found <EOF>.', extensions: { code: 'GRAPHQL_PARSE_FAILED' } }],
    });
  });
});
