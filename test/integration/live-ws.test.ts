import type { Client } from 'graphql-ws';
import { print } from 'graphql';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  InstanceStatusChangedDocument as STATUS,
  InstanceUpdatedDocument as UPDATED,
  WritePauseInstanceDocument as PAUSE,
  WriteTerminateInstanceDocument as TERMINATE,
  type InstanceStatusChangedSubscription,
} from '../generated/operations.js';
import { expectData, expectPresent, expectTypename } from '../helpers/graphql.js';
import { approvePayment, createInstance } from '../helpers/instances.js';
import {
  subscribe,
  UNKNOWN_WATCHES,
  valuesOf,
  wsClient,
  type SubscriptionResult,
  type CollectedSubscription,
} from '../helpers/live.js';
import { startStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const WORKFLOW = 'order-fulfillment';
const POLL_MS = 50;

const statusesOf = (results: readonly SubscriptionResult<InstanceStatusChangedSubscription>[]) =>
  valuesOf(results, (d) => d.instanceStatusChanged?.status ?? 'null');

describe('subscriptions over graphql-ws', () => {
  it('delivers an order-fulfillment instance from its first status to COMPLETE, released by sendInstanceEvent', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: POLL_MS } });
    await createInstance(stack, WORKFLOW, 'live-order-1');
    const client = wsClient(stack);
    const status = subscribe(client, STATUS, { workflowName: WORKFLOW, instanceId: 'live-order-1' });
    const updates = subscribe(client, UPDATED, {
      workflowName: WORKFLOW,
      instanceId: 'live-order-1',
    });
    await waitFor(() => status.results.length > 0, { message: 'the first status event' });

    // Run the emulator's clock through the one-minute cool-off: the instance then waits for its event.
    await stack.emulator.clock.advance(61_000);
    await waitFor(
      () =>
        updates.results.some(
          (r) =>
            r.data?.instanceUpdated?.steps.some((s) => 'name' in s && s.name.startsWith('await-payment-approval')) ===
            true,
        ),
      { message: 'the event wait to show up in instanceUpdated' },
    );
    expect(statusesOf(status.results)).not.toContain('COMPLETE');
    expect(statusesOf(status.results).at(-1)).toBe('WAITING');

    await approvePayment(stack, 'live-order-1');
    await waitFor(() => status.done && updates.done, { message: 'both subscriptions to complete' });

    expect(status.error).toBeUndefined();
    const events = status.results.map((r) =>
      expectPresent(expectPresent(r.data, 'a status event').instanceStatusChanged, 'a status event'),
    );
    expect(events[0]?.previousStatus).toBeNull();
    expect(events.at(-1)?.status).toBe('COMPLETE');
    for (let i = 1; i < events.length; i++) expect(events[i]?.previousStatus).toBe(events[i - 1]?.status);
    expect(events.every((e) => e.instance.instanceId === 'live-order-1' && !Number.isNaN(Date.parse(e.at)))).toBe(true);
    // The order is a path through the life cycle: queued/running first, waiting, then complete.
    const order = ['QUEUED', 'RUNNING', 'WAITING', 'RUNNING', 'COMPLETE'];
    let cursor = 0;
    for (const event of events) {
      const at = order.indexOf(event.status, cursor);
      expect(
        at,
        `status ${event.status} out of order in ${statusesOf(status.results).join(' → ')}`,
      ).toBeGreaterThanOrEqual(cursor);
      cursor = at;
    }
    expect(updates.results.at(-1)?.data?.instanceUpdated?.status).toBe('COMPLETE');
    expect(stack.app.live.stats()).toMatchObject({ loops: 0, subscribers: 0 });
  });

  it.each(UNKNOWN_WATCHES)('answers $what with one null event and completes, as queries answer null', async (watch) => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: POLL_MS } });
    const sub = watch.open(wsClient(stack));
    await waitFor(() => sub.done, { message: 'the subscription to end' });
    expect(sub.error).toBeUndefined();
    expect(sub.results).toEqual([{ data: { [watch.field]: null } }]);
  });

  it('ends a subscription whose instance stops existing with one null event, after its real ones', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: POLL_MS } });
    await createInstance(stack, WORKFLOW, 'live-deleted-1');
    const sub = subscribe(wsClient(stack), STATUS, { workflowName: WORKFLOW, instanceId: 'live-deleted-1' });
    await waitFor(() => sub.results.length > 0, { message: 'the first status event' });
    // Deleted behind the server's back: the next poll finds it gone.
    await stack.rest('DELETE', `/${WORKFLOW}/instances/live-deleted-1`);
    await waitFor(() => sub.done, { message: 'the subscription to end' });
    expect(sub.error).toBeUndefined();
    const [first, last, ...more] = statusesOf(sub.results);
    expect([first, more]).toEqual(['WAITING', []]);
    expect(last).toBe('null');
    expect(sub.results[1]).toEqual({ data: { instanceStatusChanged: null } });
  });

  it('sends every subscription of a connection each event of a burst, in order, then their completions', async () => {
    // Events pushed by mutations (no poll in the test's time): each reaches the five subscribers in one burst, whose
    // messages leave the socket in one write (src/transport/write-batching.ts); the terminal one is followed by
    // five `complete` messages.
    const stack = await startStack({ listen: true, config: { pollIntervalMs: 600_000 } });
    await createInstance(stack, WORKFLOW, 'live-burst-1');
    const client = wsClient(stack);
    const subs = Array.from({ length: 5 }, () =>
      subscribe(client, STATUS, { workflowName: WORKFLOW, instanceId: 'live-burst-1' }),
    );
    await waitFor(() => subs.every((sub) => sub.results.length === 1), { message: 'every first event' });
    const input = { workflowName: WORKFLOW, instanceId: 'live-burst-1' };
    expectTypename(expectData(await stack.graphql(PAUSE, { input })).pauseInstance, 'PauseInstancePayload');
    await waitFor(() => subs.every((sub) => sub.results.length === 2), { message: 'every PAUSED event' });
    expectTypename(expectData(await stack.graphql(TERMINATE, { input })).terminateInstance, 'TerminateInstancePayload');
    await waitFor(() => subs.every((sub) => sub.done), { message: 'every subscription to complete' });

    for (const sub of subs) {
      expect(sub.error).toBeUndefined();
      expect(statusesOf(sub.results)).toEqual(['WAITING', 'PAUSED', 'TERMINATED']);
    }
  });

  it('makes the same upstream polls for 200 subscribers of one instance as for 1, and none after they leave', async () => {
    // A budget large enough that pacing never stretches the interval: this test is about sharing.
    const stack = await startStack({
      listen: true,
      config: { pollIntervalMs: POLL_MS, upstream: { rateLimit: 100_000 } },
    });
    await createInstance(stack, WORKFLOW, 'live-fan-1');
    await createInstance(stack, WORKFLOW, 'live-control-1');
    // Every poll of this workflow's instances, by path; the control instance lives in another loop's workflow.
    const pollsOf = (id: string) =>
      stack.emulator.requests.entries.filter((e) => e.path.includes(`/instances/${id}`)).length;

    /** Upstream requests for the instance during `cycles` poll cycles of its loop. */
    const measure = async (
      subscribers: number,
    ): Promise<{ perCycle: number; subs: CollectedSubscription<InstanceStatusChangedSubscription>[] }> => {
      // graphql-ws connections of at most 100 subscriptions each (the default per-connection limit).
      const connections = Array.from({ length: Math.ceil(subscribers / 100) }, () => wsClient(stack));
      const subs = Array.from({ length: subscribers }, (_, i) =>
        subscribe(connections[Math.floor(i / 100)] as Client, STATUS, {
          workflowName: WORKFLOW,
          instanceId: 'live-fan-1',
        }),
      );
      await waitFor(() => subs.every((s) => s.results.length > 0), {
        message: `first events for ${subscribers} subscribers`,
      });
      const cyclesBefore = stack.app.live.stats().cycles;
      const before = pollsOf('live-fan-1');
      await waitFor(() => stack.app.live.stats().cycles >= cyclesBefore + 10, { message: '10 poll cycles' });
      const cycles = stack.app.live.stats().cycles - cyclesBefore;
      return { perCycle: (pollsOf('live-fan-1') - before) / cycles, subs };
    };

    const one = await measure(1);
    for (const s of one.subs) s.unsubscribe();
    await waitFor(() => stack.app.live.stats().loops === 0, { message: 'the loop to stop' });
    const many = await measure(200);
    expect(one.perCycle).toBeGreaterThan(0.8);
    expect(Math.abs(many.perCycle - one.perCycle)).toBeLessThanOrEqual(0.15);

    for (const s of many.subs) s.unsubscribe();
    await waitFor(() => stack.app.live.stats().subscribers === 0 && stack.app.live.stats().loops === 0, {
      message: 'every loop to stop',
    });
    const flat = pollsOf('live-fan-1');
    const total = stack.upstreamCalls();
    const controlBefore = pollsOf('live-control-1');
    // A control subscription on another instance keeps polling: its cycles prove that poll intervals passed.
    const control = subscribe(wsClient(stack), STATUS, { workflowName: WORKFLOW, instanceId: 'live-control-1' });
    await waitFor(() => control.results.length > 0, { message: 'the control subscription' });
    const cycles = stack.app.live.stats().cycles;
    await waitFor(() => stack.app.live.stats().cycles >= cycles + 10, { message: '10 control poll cycles' });
    expect(pollsOf('live-fan-1')).toBe(flat);
    // Every upstream request since then was the control's.
    expect(stack.upstreamCalls() - total).toBe(pollsOf('live-control-1') - controlBefore);
  });

  it('refuses a subscription beyond MAX_SUBSCRIPTIONS_PER_CONNECTION with a clear error, keeping the others', async () => {
    const stack = await startStack({
      listen: true,
      config: { pollIntervalMs: POLL_MS, maxSubscriptionsPerConnection: 2 },
    });
    await createInstance(stack, WORKFLOW, 'live-limit-1');
    const client = wsClient(stack);
    const vars = { workflowName: WORKFLOW, instanceId: 'live-limit-1' };
    const a = subscribe(client, STATUS, vars);
    const b = subscribe(client, STATUS, vars);
    await waitFor(() => a.results.length > 0 && b.results.length > 0, { message: 'two subscriptions' });
    const c = subscribe(client, STATUS, vars);
    await waitFor(() => c.done, { message: 'the third subscription to be refused' });
    expect(c.error).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('limit (MAX_SUBSCRIPTIONS_PER_CONNECTION)'),
        extensions: { code: 'SUBSCRIPTION_LIMIT', limit: 2, scope: 'connection' },
      }),
    ]);
    expect(a.done || b.done).toBe(false);
  });

  it('holds MAX_SUBSCRIPTIONS_PER_CONNECTION when subscribes are pipelined on one socket', async () => {
    const stack = await startStack({
      listen: true,
      config: { pollIntervalMs: POLL_MS, maxSubscriptionsPerConnection: 10 },
    });
    await createInstance(stack, WORKFLOW, 'live-pipelined-1');
    const socket = new WebSocket((stack.url as string).replace(/^http/, 'ws'), 'graphql-transport-ws');
    const messages: { type: string; id?: string; payload?: unknown }[] = [];
    socket.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as (typeof messages)[number]));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.send(JSON.stringify({ type: 'connection_init' }));
    await waitFor(() => messages.some((m) => m.type === 'connection_ack'), { message: 'the ack' });
    const query = print(STATUS);
    const variables = { workflowName: WORKFLOW, instanceId: 'live-pipelined-1' };
    // 40 subscribes in one burst: each is checked before the previous ones got their context.
    for (let i = 0; i < 40; i++)
      socket.send(JSON.stringify({ type: 'subscribe', id: `s${i}`, payload: { query, variables } }));
    const refused = () => new Set(messages.filter((m) => m.type === 'error').map((m) => m.id));
    const accepted = () => new Set(messages.filter((m) => m.type === 'next').map((m) => m.id));
    await waitFor(() => refused().size + accepted().size === 40, { message: 'an answer to every subscribe' });
    socket.close();
    expect(accepted().size).toBe(10);
    expect(refused().size).toBe(30);
  });

  it('refuses a subscription beyond MAX_SUBSCRIPTIONS on the server', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: POLL_MS, maxSubscriptions: 1 } });
    await createInstance(stack, WORKFLOW, 'live-limit-2');
    const vars = { workflowName: WORKFLOW, instanceId: 'live-limit-2' };
    const a = subscribe(wsClient(stack), STATUS, vars);
    await waitFor(() => a.results.length > 0, { message: 'the first subscription' });
    const b = subscribe(wsClient(stack), STATUS, vars);
    await waitFor(() => b.done, { message: 'the second subscription to be refused' });
    expect(b.results[0]?.errors?.[0]).toMatchObject({
      message: expect.stringContaining('limit (MAX_SUBSCRIPTIONS)'),
      extensions: { code: 'SUBSCRIPTION_LIMIT', scope: 'server' },
    });
  });

  it('ends subscriptions on shutdown with a retryable SHUTTING_DOWN error and closes the socket with 1001', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: POLL_MS } });
    await createInstance(stack, WORKFLOW, 'live-stop-1');
    let closeCode: number | undefined;
    const sub = subscribe(
      wsClient(stack, (code) => (closeCode = code)),
      STATUS,
      { workflowName: WORKFLOW, instanceId: 'live-stop-1' },
    );
    await waitFor(() => sub.results.length > 0, { message: 'the first event' });
    await stack.app.stop();
    await waitFor(() => sub.done && closeCode !== undefined, { message: 'completion and close' });
    expect(sub.error).toBeUndefined();
    // Not a plain completion, which would mean the instance finished: the last result says why it ended.
    expect(sub.results.at(-1)?.errors?.map((e) => e.extensions?.['code'])).toEqual(['SHUTTING_DOWN']);
    expect(closeCode).toBe(1001);
  });
});
