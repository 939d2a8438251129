import { readFileSync } from 'node:fs';
import { createClient } from 'graphql-sse';
import { describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';

const STATUS = readFileSync(new URL('../operations/live/InstanceStatusChanged.graphql', import.meta.url), 'utf8');
const WORKFLOW = 'order-fulfillment';

interface StatusEvent {
  status: string;
  previousStatus: string | null;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function createInstance(stack: Stack, instanceId: string): Promise<void> {
  const result = await stack.graphql(
    `mutation($id: String!) { createInstance(input: { workflowName: "${WORKFLOW}", instanceId: $id }) { __typename ... on Error { message } } }`,
    { id: instanceId },
  );
  expect(result.data.createInstance.__typename).toBe('CreateInstancePayload');
}

/** Drives an instance to its event wait, then releases it with `sendInstanceEvent`. */
async function release(stack: Stack, instanceId: string, waiting: () => boolean): Promise<void> {
  await stack.emulator.clock.advance(61_000);
  await waitFor(waiting, 'the WAITING status');
  const sent = await stack.graphql(
    `mutation { sendInstanceEvent(input: { workflowName: "${WORKFLOW}", instanceId: "${instanceId}", type: "payment-approved", payload: { approved: true } }) { __typename } }`,
  );
  expect(sent.data.sendInstanceEvent.__typename).toBe('SendInstanceEventPayload');
}

function expectLifecycle(events: StatusEvent[]): void {
  expect(events[0]?.previousStatus).toBeNull();
  expect(events.at(-1)?.status).toBe('COMPLETE');
  expect(events.map((e) => e.status)).toContain('WAITING');
  for (let i = 1; i < events.length; i++) expect(events[i]?.previousStatus).toBe(events[i - 1]?.status);
}

describe('subscriptions over SSE', () => {
  it('streams an instance to COMPLETE in the graphql-sse single-connection mode at /graphql/stream', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: 50 } });
    await createInstance(stack, 'sse-single-1');
    const client = createClient({ url: `${stack.url as string}/stream`, singleConnection: true, retryAttempts: 0 });
    const events: StatusEvent[] = [];
    let done = false;
    let failure: unknown;
    client.subscribe<{ instanceStatusChanged: StatusEvent }>(
      { query: STATUS, variables: { workflowName: WORKFLOW, instanceId: 'sse-single-1' } },
      {
        next: (result) => {
          if (result.data) events.push(result.data.instanceStatusChanged);
        },
        error: (error) => {
          failure = error;
          done = true;
        },
        complete: () => {
          done = true;
        },
      },
    );
    try {
      await waitFor(() => events.length > 0, 'the first event');
      await release(stack, 'sse-single-1', () => events.at(-1)?.status === 'WAITING');
      await waitFor(() => done, 'completion');
    } finally {
      client.dispose();
    }
    expect(failure).toBeUndefined();
    expectLifecycle(events);
  });

  it('streams an instance to COMPLETE in the distinct-connections mode (fetch with Accept: text/event-stream)', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: 50 } });
    await createInstance(stack, 'sse-distinct-1');
    const controller = new AbortController();
    const response = await fetch(stack.url as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: STATUS, variables: { workflowName: WORKFLOW, instanceId: 'sse-distinct-1' } }),
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: StatusEvent[] = [];
    let completed = false;
    const reading = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(message)?.[1];
          const data = /^data: (.*)$/m.exec(message)?.[1];
          if (event === 'next' && data) events.push((JSON.parse(data) as { data: { instanceStatusChanged: StatusEvent } }).data.instanceStatusChanged);
          if (event === 'complete') completed = true;
        }
      }
    })();
    try {
      await waitFor(() => events.length > 0, 'the first event');
      await release(stack, 'sse-distinct-1', () => events.at(-1)?.status === 'WAITING');
      await waitFor(() => completed, 'the complete event');
      await reading;
    } finally {
      controller.abort();
    }
    expectLifecycle(events);
    expect(stack.app.live.stats().subscribers).toBe(0);
  });
});
