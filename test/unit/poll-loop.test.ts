import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createConfig, type Config } from '../../src/config.js';
import type { Logger } from '../../src/logger.js';
import { SubscriptionLimitError } from '../../src/errors/subscription-errors.js';
import { createLiveHub, type ManagedLiveHub } from '../../src/subscriptions/live-hub.js';
import type { BudgetSource } from '../../src/subscriptions/pacer.js';
import type { BudgetState } from '../../src/upstream/budget.js';
import type { LiveItem, LiveStream } from '../../src/subscriptions/types.js';
import { NotFoundError, UpstreamRateLimitedError } from '../../src/upstream/errors.js';
import type { InstanceStatus } from '../../src/upstream/types.js';
import { FakeWorkflowsApi } from '../helpers/fake-workflows-api.js';

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const INTERVAL = 1000;

let api: FakeWorkflowsApi;
let budget: BudgetState;
/** Reports `budget` as every credential's budget: a test sets it to the state it needs. */
const settableBudget: BudgetSource = { budget: () => budget };
let hub: ManagedLiveHub;

function startHub(overrides: Partial<Config> = {}): ManagedLiveHub {
  const config = createConfig({ pollIntervalMs: INTERVAL, logLevel: 'silent', ...overrides });
  hub = createLiveHub({ config, upstream: settableBudget, logger: silentLogger });
  return hub;
}

/** Lets the hub's timers and the fake's promises run for `ms` of fake time. */
async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

/** Reads what a stream has delivered so far without waiting for more. */
async function drain<T>(stream: LiveStream<T>): Promise<LiveItem<T>[]> {
  const items: LiveItem<T>[] = [];
  for (;;) {
    const next = await Promise.race([stream.next(), Promise.resolve('pending' as const)]);
    if (next === 'pending' || next.done) return items;
    items.push(next.value);
  }
}

beforeEach(() => {
  vi.useFakeTimers();
  api = new FakeWorkflowsApi();
  budget = {
    capacity: 1200,
    available: 1200,
    backgroundAvailable: 960,
    backgroundRatePerSecond: 3.2,
    backgroundWaitMs: 0,
    resetInMs: null,
  };
});

afterEach(async () => {
  await hub?.close();
  vi.useRealTimers();
});

describe('instance subscriptions', () => {
  it('emits the current status first, then every change, and completes after a terminal status', async () => {
    api.create('i1', 'queued');
    startHub();
    const stream = hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    await advance(0);
    api.setStatus('i1', 'running');
    await advance(2 * INTERVAL);
    api.setStatus('i1', 'waiting');
    await advance(INTERVAL);
    api.setStatus('i1', 'complete');
    await advance(3 * INTERVAL);
    const items = await drain(stream);
    expect(items.map((i) => [i.value?.previousStatus, i.value?.status])).toEqual([
      [null, 'queued'],
      ['queued', 'running'],
      ['running', 'waiting'],
      ['waiting', 'complete'],
    ]);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(hub.stats()).toMatchObject({ loops: 0, subscribers: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('uses background priority for every poll', async () => {
    api.create('i1', 'running');
    startHub();
    hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    await advance(5 * INTERVAL);
    expect(api.calls.length).toBeGreaterThan(3);
    expect(api.calls.every((c) => c.priority === 'background')).toBe(true);
  });

  it('makes the same upstream calls for 200 subscribers of one instance as for 1', async () => {
    const measure = async (subscribers: number): Promise<number> => {
      api = new FakeWorkflowsApi();
      api.create('i1', 'running');
      startHub();
      const streams = Array.from({ length: subscribers }, () =>
        hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: true }),
      );
      await advance(10 * INTERVAL);
      for (const stream of streams) expect((await drain(stream)).length).toBe(1);
      const calls = api.calls.length;
      await hub.close();
      return calls;
    };
    const one = await measure(1);
    const many = await measure(200);
    expect(one).toBeGreaterThanOrEqual(10);
    expect(many).toBe(one);
  });

  it('gives subscribers that change together one shared event object, and a late joiner its own previousStatus', async () => {
    api.create('i1', 'running');
    startHub();
    const early = Array.from({ length: 3 }, () =>
      hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false }),
    );
    await advance(0);
    api.setStatus('i1', 'paused');
    await advance(INTERVAL);
    const late = hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    const [a, b, c] = await Promise.all(early.map((stream) => drain(stream)));
    const joined = await drain(late);
    expect(a?.map((i) => i.value?.status)).toEqual(['running', 'paused']);
    expect(b?.[1]).toBe(a?.[1]);
    expect(c?.[1]).toBe(a?.[1]);
    expect(joined.map((i) => [i.value?.previousStatus, i.value?.status])).toEqual([[null, 'paused']]);
  });

  it('emits instanceUpdated on a new step without a status change', async () => {
    api.create('i1', 'running');
    startHub();
    const stream = hub.watchInstanceUpdates(api.api, 'order-fulfillment', 'i1');
    await advance(0);
    api.addStep('i1', 'reserve-stock-1');
    await advance(INTERVAL);
    await advance(INTERVAL); // unchanged: no event
    api.setStatus('i1', 'complete');
    await advance(INTERVAL);
    const items = await drain(stream);
    expect(items.map((i) => [i.value?.status, i.value?.steps.length])).toEqual([
      ['running', 0],
      ['running', 1],
      ['complete', 1],
    ]);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it('stops polling when the last subscriber leaves: no timer, the request in flight aborted, no more calls', async () => {
    api.create('i1', 'running');
    startHub();
    const a = hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    const b = hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    await advance(3 * INTERVAL);
    api.hold();
    await advance(INTERVAL);
    const before = api.calls.length;
    await a.return?.();
    expect(hub.stats().loops).toBe(1);
    await b.return?.();
    expect(api.aborted).toBe(1);
    expect(hub.stats()).toMatchObject({ loops: 0, subscribers: 0 });
    expect(vi.getTimerCount()).toBe(0);
    api.release();
    await advance(20 * INTERVAL);
    expect(api.calls.length).toBe(before);
  });

  it('reports an unknown instance as an error item and ends', async () => {
    startHub();
    const stream = hub.watchInstanceStatus(api.api, 'order-fulfillment', 'nope', { needsDetails: false });
    await advance(0);
    const items = await drain(stream);
    expect(items).toHaveLength(1);
    expect(items[0]?.error).toBeInstanceOf(NotFoundError);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(hub.stats().loops).toBe(0);
  });

  it('publishes the details a mutation observed at once, without an upstream call', async () => {
    api.create('i1', 'running');
    startHub();
    const stream = hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    await advance(0);
    const calls = api.calls.length;
    api.setStatus('i1', 'paused');
    const details = await api.api.getInstance('order-fulfillment', 'i1');
    hub.instanceChanged(api.api, 'order-fulfillment', 'i1', details);
    const items = await drain(stream);
    expect(items.map((i) => i.value?.status)).toEqual(['running', 'paused']);
    expect(api.calls.length).toBe(calls + 1); // only the test's own read
  });

  it('polls at once when a mutation reports a change without details', async () => {
    api.create('i1', 'paused');
    startHub();
    const stream = hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    await advance(0);
    api.setStatus('i1', 'queued');
    hub.instanceChanged(api.api, 'order-fulfillment', 'i1');
    await advance(0);
    expect((await drain(stream)).map((i) => i.value?.status)).toEqual(['paused', 'queued']);
  });

  it('polls queued, waiting and paused instances less often than running ones', async () => {
    const callsIn = async (status: InstanceStatus): Promise<number> => {
      api = new FakeWorkflowsApi();
      api.create('i1', status);
      startHub();
      hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
      await advance(30 * INTERVAL);
      await hub.close();
      return api.calls.length;
    };
    const running = await callsIn('running');
    expect(await callsIn('queued')).toBeLessThan(running);
    expect(await callsIn('waiting')).toBeLessThan(await callsIn('queued'));
    expect(await callsIn('paused')).toBeLessThan(await callsIn('waiting'));
  });
});

describe('many instances', () => {
  it('reads 250 watched instances with 3 list pages per cycle and fetches details only for the changed ones', async () => {
    for (let i = 0; i < 250; i++) api.create(`i${i}`, 'running');
    startHub({ upstream: { ...createConfig().upstream, rateLimit: 100_000 } });
    budget = {
      ...budget,
      capacity: 100_000,
      available: 100_000,
      backgroundAvailable: 80_000,
      backgroundRatePerSecond: 800,
    };
    const streams = [...api.instances.keys()].map((id) =>
      hub.watchInstanceStatus(api.api, 'order-fulfillment', id, { needsDetails: id === 'i7' }),
    );
    await advance(0);
    await advance(INTERVAL);
    api.calls.length = 0;
    api.setStatus('i7', 'complete');
    api.setStatus('i8', 'complete');
    await advance(INTERVAL);
    expect(api.count({ method: 'listInstances' })).toBe(3);
    expect(api.calls.filter((c) => c.method === 'getInstance').map((c) => c.instanceId)).toEqual(['i7']);
    const seven = await drain(streams[7] as LiveStream<unknown>);
    expect(seven.length).toBe(2);
  });

  it('stretches intervals evenly when the budget cannot sustain the base rate', async () => {
    for (let i = 0; i < 500; i++) api.create(`i${i}`, 'running');
    // 1 request/s sustainable for background work; 500 instances cost 5 list pages per cycle.
    budget = { ...budget, capacity: 60, available: 60, backgroundAvailable: 48, backgroundRatePerSecond: 1 };
    startHub();
    for (const id of api.instances.keys())
      hub.watchInstanceStatus(api.api, 'order-fulfillment', id, { needsDetails: false });
    await advance(0);
    api.calls.length = 0;
    await advance(60_000);
    // Unstretched this would be 300 calls; the sustainable rate allows 60.
    expect(api.calls.length).toBeLessThanOrEqual(65);
    expect(api.calls.length).toBeGreaterThanOrEqual(50);
  });

  it('polls at a fixed rate: the time a cycle takes does not push back the next one', async () => {
    api.create('i1', 'running');
    api.latencyMs = 300;
    startHub();
    hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    await advance(10 * INTERVAL + 100);
    const gaps = api.startedAt.slice(1).map((at, k) => at - (api.startedAt[k] ?? 0));
    expect(gaps.length).toBeGreaterThanOrEqual(9);
    expect(new Set(gaps)).toEqual(new Set([INTERVAL]));
  });

  it('follows a cycle that overran its interval at once, without a burst to catch up', async () => {
    api.create('i1', 'running');
    api.latencyMs = 2.5 * INTERVAL;
    startHub();
    hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    await advance(10 * INTERVAL + 100);
    const gaps = api.startedAt.slice(1).map((at, k) => at - (api.startedAt[k] ?? 0));
    expect(gaps.length).toBeGreaterThanOrEqual(3);
    // Each next cycle starts on the first timer tick after the overrunning one ends.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(2.5 * INTERVAL);
    for (const gap of gaps) expect(gap).toBeLessThan(2.5 * INTERVAL + 10);
  });

  it('backs off on a budget RateLimitedError and keeps every subscriber', async () => {
    api.create('i1', 'running');
    startHub();
    const stream = hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    await advance(0);
    api.failures.push(new UpstreamRateLimitedError('budget spent', 5000, 'budget'));
    await advance(INTERVAL);
    const calls = api.calls.length;
    api.setStatus('i1', 'complete');
    await advance(4000);
    expect(api.calls.length).toBe(calls);
    await advance(1000);
    expect((await drain(stream)).map((i) => i.value?.status)).toEqual(['running', 'complete']);
  });
});

describe('workflow subscriptions', () => {
  it('reports new instances and status changes after the baseline, filtered by status', async () => {
    api.create('old', 'running');
    startHub();
    const all = hub.watchWorkflowInstances(api.api, 'order-fulfillment', { statuses: null, needsDetails: false });
    const done = hub.watchWorkflowInstances(api.api, 'order-fulfillment', {
      statuses: ['complete'],
      needsDetails: false,
    });
    await advance(0);
    api.create('new', 'queued');
    api.setStatus('old', 'complete');
    await advance(INTERVAL);
    const events = (await drain(all)).map((i) => [i.value?.instanceId, i.value?.previousStatus, i.value?.status]);
    expect(events).toEqual(
      expect.arrayContaining([
        ['new', null, 'queued'],
        ['old', 'running', 'complete'],
      ]),
    );
    expect(events).toHaveLength(2);
    expect((await drain(done)).map((i) => i.value?.instanceId)).toEqual(['old']);
  });

  it('ends with an error when the workflow does not exist', async () => {
    startHub();
    const stream = hub.watchWorkflowInstances(api.api, 'missing', { statuses: null, needsDetails: false });
    await advance(0);
    const items = await drain(stream);
    expect(items[0]?.error).toBeInstanceOf(NotFoundError);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });
});

describe('limits and shutdown', () => {
  it('refuses subscriptions beyond MAX_SUBSCRIPTIONS with a clear error', () => {
    api.create('i1', 'running');
    startHub({ maxSubscriptions: 2 });
    hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    expect(() => hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false })).toThrow(
      SubscriptionLimitError,
    );
    expect(() => hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false })).toThrow(
      /limit \(MAX_SUBSCRIPTIONS\)/,
    );
  });

  it('ends every subscription with a ShuttingDownError on close (not a completion) and stops every loop', async () => {
    api.create('i1', 'running');
    startHub();
    const stream = hub.watchInstanceStatus(api.api, 'order-fulfillment', 'i1', { needsDetails: false });
    await advance(0);
    await hub.close();
    const items = await drain(stream);
    // Issue 12: a subscription ended by shutdown must be distinguishable from one whose instance finished.
    expect(items.map((i) => i.value?.status ?? i.error?.name)).toEqual(['running', 'ShuttingDownError']);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(vi.getTimerCount()).toBe(0);
  });
});
