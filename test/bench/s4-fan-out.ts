import { setTimeout as delay } from 'node:timers/promises';
import { cpuDuring } from './cpu.js';
import { measureDelivery, type Delivery, type Trigger } from './delivery.js';
import { connectInspector } from './inspector.js';
import { readRssBytes } from './proc.js';
import { verdict } from './report.js';
import { createRest } from './rest.js';
import type { Scenario, ScenarioOutcome } from './scenario.js';
import { scoped } from './scope.js';
import { seedWorkflow } from './seed.js';
import { ACCOUNT_ID, ORCHESTRATOR_TOKEN, startEmulator, startGateway } from './stack.js';
import { percentile } from './stats.js';
import { startSubscribers, type SubscriberReadings } from './subscribers.js';
import { waitFor } from './wait.js';
import { now } from './ws-spec.js';

const INSTANCES = 100;
const CONNECTIONS = 1000;
const SUBSCRIPTIONS = 10_000;
/** Issue 17 (13 KB measured before it). */
const MEMORY_TARGET_KB = 10;
const MEASURED_CYCLES = 5;
const UNLIMITED = { limit: 100_000_000, windowS: 300 };

/** Selects only the event's own fields, as a status badge would: no instance details needed. */
export const STATUS_SUBSCRIPTION =
  'subscription Watch($workflowName: String!, $instanceId: String!) { instanceStatusChanged(workflowName: $workflowName, instanceId: $instanceId) { status previousStatus } }';

/** Statuses that show a pause arrived. */
export const PAUSE_SEEN = ['WAITING_FOR_PAUSE', 'PAUSED'];

export const s4: Scenario = {
  id: 's4',
  title: 'fan-out',
  run: (settings) =>
    scoped(async (scope): Promise<ScenarioOutcome> => {
      const poll = settings.pollIntervalMs;
      const emulator = scope.use(await startEmulator({ latencyMs: settings.latencyMs }));
      const { workflowName, instanceIds } = await seedWorkflow(emulator, 'bench-fanout', INSTANCES);
      const gateway = scope.use(
        await startGateway({ upstreamUrl: emulator.url, rateLimit: UNLIMITED, pollIntervalMs: poll, inspect: true }),
      );
      if (gateway.inspectorUrl === undefined) throw new Error('the gateway started without its inspector');
      const inspector = await connectInspector(gateway.inspectorUrl);
      scope.use({ stop: async () => inspector.close() });
      /** Process memory after a full GC: the RSS (all the process holds) and the JS heap (what it retains). */
      const memory = async () => {
        const heap = await inspector.heapUsedAfterGc();
        return { heap, rss: await readRssBytes(gateway.child.pid) };
      };
      const wsUrl = `${gateway.origin.replace(/^http/, 'ws')}/graphql`;
      const subscriptionsFor = (count: number) =>
        Array.from({ length: count }, (_, k) => {
          const instanceId = instanceIds[k % instanceIds.length] ?? '';
          return { key: instanceId, variables: { workflowName, instanceId } };
        });

      // Control run, one subscription per instance of a workflow of its own: the same pauses without the
      // fan-out load. It also warms the subscription path, so the memory delta below is the subscriptions' own.
      const control = await seedWorkflow(emulator, 'bench-fanout-control', INSTANCES);
      const warm = startSubscribers({
        url: wsUrl,
        connections: 10,
        query: STATUS_SUBSCRIPTION,
        subscriptions: control.instanceIds.map((instanceId) => ({
          key: instanceId,
          variables: { workflowName: control.workflowName, instanceId },
        })),
      });
      let controlDelivery: Delivery;
      try {
        await warm.waitAllLive(30_000);
        controlDelivery = await pauseAndMeasure(
          emulator.url,
          control.workflowName,
          control.instanceIds,
          warm,
          INSTANCES,
          poll,
        );
      } finally {
        await warm.stop();
      }
      const before = await memory();

      const load = scope.use(
        startSubscribers({
          url: wsUrl,
          connections: CONNECTIONS,
          query: STATUS_SUBSCRIPTION,
          subscriptions: subscriptionsFor(SUBSCRIPTIONS),
          deferSubscribe: true,
        }),
      );
      // Connections first, subscriptions second: the two memory costs are reported apart.
      await load.waitAllConnected(60_000);
      const connected = await memory();
      const startedAt = performance.now();
      load.subscribe();
      await load.waitAllLive(120_000);
      const subscribeS = (performance.now() - startedAt) / 1000;

      // A fixed measuring window of whole poll cycles: this is the measurement itself, not a wait for a state.
      await emulator.resetCounts();
      const quiet = await cpuDuring(gateway.child.pid, () => delay(MEASURED_CYCLES * poll));
      const counts = await emulator.counts();
      const cycles = quiet.elapsedMs / poll;
      const perCycle = counts.total / cycles;
      const cpuMsPerCycle = (quiet.cpuS * 1000) / cycles;
      const after = await memory();
      const perSubscriptionKb = (after.rss - before.rss) / SUBSCRIPTIONS / 1024;
      const kb = (bytes: number, count: number) => bytes / count / 1024;

      const delivering = await cpuDuring(gateway.child.pid, () =>
        pauseAndMeasure(emulator.url, workflowName, instanceIds, load, SUBSCRIPTIONS, poll),
      );
      const delivery = delivering.value;
      // The quiet window's polling goes on meanwhile: what is left is the cost of the changes and their fan-out.
      const pollingMs = (cpuMsPerCycle * delivering.elapsedMs) / poll;
      const cpuUsPerEvent = ((delivering.cpuS * 1000 - pollingMs) * 1000) / delivery.events;
      const p95 = percentile(delivery.latenciesMs, 95);
      const latencyTarget = poll + 250;
      const final = await load.status();

      return {
        metrics: [
          {
            name: 'upstream requests per poll cycle',
            value: perCycle,
            baseline: SUBSCRIPTIONS,
            ratio: perCycle / SUBSCRIPTIONS,
            unit: 'req',
            target: 'none set (baseline: one request per subscription per cycle)',
            verdict: 'INFO',
          },
          {
            name: `gateway CPU per poll cycle, ${SUBSCRIPTIONS} subscriptions, no change`,
            value: cpuMsPerCycle,
            unit: 'ms',
            target: 'none (reported)',
            verdict: 'INFO',
          },
          {
            name: 'gateway CPU per delivered event (polling subtracted)',
            value: cpuUsPerEvent,
            unit: 'µs',
            target: 'none (reported)',
            verdict: 'INFO',
          },
          {
            name: 'gateway memory per subscription (RSS delta after GC)',
            value: perSubscriptionKb,
            unit: 'KB',
            target: `<= ${MEMORY_TARGET_KB} KB`,
            verdict: verdict(perSubscriptionKb <= MEMORY_TARGET_KB),
          },
          {
            name: 'JS heap per subscription after GC',
            value: kb(after.heap - before.heap, SUBSCRIPTIONS),
            unit: 'KB',
            target: 'none (retained objects only)',
            verdict: 'INFO',
          },
          {
            name: 'of which per connection (RSS / heap)',
            value: kb(connected.rss - before.rss, CONNECTIONS),
            baseline: kb(connected.heap - before.heap, CONNECTIONS),
            unit: 'KB',
            target: 'none (baseline column: heap)',
            verdict: 'INFO',
          },
          {
            name: 'of which per subscription on an open connection (RSS / heap)',
            value: kb(after.rss - connected.rss, SUBSCRIPTIONS),
            baseline: kb(after.heap - connected.heap, SUBSCRIPTIONS),
            unit: 'KB',
            target: 'none (baseline column: heap)',
            verdict: 'INFO',
          },
          {
            name: 'status change delivery, p95',
            value: p95,
            unit: 'ms',
            target: `<= poll interval + 250 ms (${latencyTarget} ms)`,
            verdict: verdict(delivery.undelivered === 0 && p95 <= latencyTarget),
          },
          {
            name: `status change delivery, p95, control with ${INSTANCES} subscriptions`,
            value: percentile(controlDelivery.latenciesMs, 95),
            unit: 'ms',
            target: 'none (same pauses, one subscriber per instance)',
            verdict: 'INFO',
          },
          {
            name: 'subscribers that received the change',
            value: delivery.subscriptions - delivery.undelivered,
            baseline: delivery.subscriptions,
            ratio: (delivery.subscriptions - delivery.undelivered) / delivery.subscriptions,
            unit: '',
            target: 'all',
            verdict: verdict(delivery.undelivered === 0 && delivery.subscriptions === SUBSCRIPTIONS),
          },
        ],
        notes: [
          `${SUBSCRIPTIONS} subscriptions (instanceStatusChanged { status previousStatus }) over ${CONNECTIONS} WebSocket ` +
            `connections on ${INSTANCES} running instances, ${SUBSCRIPTIONS / INSTANCES} per instance; all live after ${subscribeS.toFixed(1)} s; ` +
            `poll interval ${poll} ms, upstream latency ${settings.latencyMs} ms`,
          `upstream: ${counts.total} requests (${counts.instanceLists} lists, ${counts.instanceGets} instance GETs) in ` +
            `${cycles.toFixed(1)} poll intervals`,
          `gateway memory after a full GC (forced through the inspector; RSS from /proc/<pid>/status): RSS ${mib(before.rss)} → ` +
            `${mib(connected.rss)} → ${mib(after.rss)} MiB, heap ${mib(before.heap)} → ${mib(connected.heap)} → ${mib(after.heap)} MiB ` +
            `(idle → ${CONNECTIONS} initialised connections → all subscriptions); the target figure is the whole RSS delta over ` +
            'the subscriptions, connections included',
          `delivery: the ${INSTANCES} instances paused through the emulator REST API, spread evenly over two poll intervals; latency = first event showing ` +
            `WAITING_FOR_PAUSE or PAUSED minus the moment the PATCH was sent; p50 ${ms(delivery.latenciesMs, 50)} ms, ` +
            `max ${Math.max(0, ...delivery.latenciesMs).toFixed(0)} ms; ${final.closed} connections closed, ${final.errors} errors`,
          `gateway CPU (user + system of its process, /proc/<pid>/stat, 10 ms ticks): ${(quiet.cpuS * 1000).toFixed(0)} ms ` +
            `over the ${cycles.toFixed(1)} quiet poll intervals; ${(delivering.cpuS * 1000).toFixed(0)} ms over the ` +
            `${(delivering.elapsedMs / 1000).toFixed(1)} s of the delivery phase (pauses, waiting for every subscriber, ` +
            `reading the events), of which ${pollingMs.toFixed(0)} ms is put down to polling at the quiet rate, the ` +
            `rest spread over the ${delivery.events} events the subscribers received from their pause on`,
          `where the time goes, per instance: first subscriber reached after p50 ${ms(delivery.firstMs, 50)} / p95 ` +
            `${ms(delivery.firstMs, 95)} ms (noticing the change: poll phase + list call), last subscriber ` +
            `p50 ${ms(delivery.spreadMs, 50)} / p95 ${ms(delivery.spreadMs, 95)} ms after the first (fan-out to ` +
            `${SUBSCRIPTIONS / INSTANCES} subscribers, among the other instances changed in the same cycle)`,
        ],
      };
    }),
};

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const ms = (values: readonly number[], p: number) => percentile(values, p).toFixed(0);

/**
 * Pauses every instance through the emulator REST API, spread evenly over two poll intervals so that the
 * changes fall at every phase of the poll cycle, then waits (with a deadline) for `expected` subscribers to
 * see it and measures the delivery. A shortfall is returned as undelivered, not thrown.
 */
export async function pauseAndMeasure(
  emulatorUrl: string,
  workflowName: string,
  instanceIds: readonly string[],
  subscribers: SubscriberReadings,
  expected: number,
  poll: number,
): Promise<Delivery> {
  const rest = createRest(emulatorUrl, ACCOUNT_ID, ORCHESTRATOR_TOKEN);
  const triggers = new Map<string, Trigger>();
  const since = now();
  try {
    const spacingMs = (2 * poll) / instanceIds.length;
    await Promise.all(
      instanceIds.map(async (id, i) => {
        await delay(i * spacingMs);
        triggers.set(id, { sentAt: now(), statuses: new Set(PAUSE_SEEN) });
        await rest.changeStatus(workflowName, id, 'pause');
      }),
    );
  } finally {
    await rest.close();
  }
  await waitFor(
    'every subscriber to see its pause',
    async () => ((await subscribers.status({ statuses: PAUSE_SEEN, since })).seen === expected ? true : undefined),
    { timeoutMs: 3 * poll + 10_000, intervalMs: 100 },
  ).catch(() => undefined);
  return measureDelivery(await subscribers.report(), triggers);
}
