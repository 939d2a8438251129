import { setTimeout as delay } from 'node:timers/promises';
import { describeRoutes } from './counts.js';
import { measureDelivery, type Trigger } from './delivery.js';
import { assertClean, graphqlRequest, runSustained } from './load.js';
import type { SustainedResult } from './load-spec.js';
import { verdict } from './report.js';
import { createRest } from './rest.js';
import { PAUSE_SEEN, STATUS_SUBSCRIPTION } from './s4-fan-out.js';
import type { BenchSettings, Scenario, ScenarioOutcome } from './scenario.js';
import { scoped } from './scope.js';
import { seedWorkflow } from './seed.js';
import { ACCOUNT_ID, ORCHESTRATOR_TOKEN, startEmulator, startGateway, type HttpProcess } from './stack.js';
import { percentile } from './stats.js';
import { startSubscribers } from './subscribers.js';
import { waitFor } from './wait.js';
import { now } from './ws-spec.js';

/** The scaled-down budget: Cloudflare's 1200 per 300 s, divided by 20. */
const BUDGET = { limit: 60, windowS: 15 };
const WATCHED = 500;
const CONNECTIONS = 50;
/** Instances paused during the loaded phase, spread over its first part. */
const CHANGES = 20;
/** A quarter of the budget; at half of it (2 req/s) the gateway refused some queries with RATE_LIMITED. */
const QUERY_RATE = 1;
const PHASE_S = 20;
const QUERIED = 20;

const QUERY =
  'query One($workflowName: String!, $id: String!) { instance(workflowName: $workflowName, instanceId: $id) { instanceId status params } }';

function queryLoad(
  gateway: HttpProcess,
  workflowName: string,
  ids: readonly string[],
  rate = QUERY_RATE,
): Promise<SustainedResult> {
  return runSustained({
    origin: gateway.origin,
    requests: ids.slice(0, QUERIED).map((id) => graphqlRequest(QUERY, { workflowName, id })),
    connections: 2,
    overallRate: rate,
    warmupS: 2,
    durationS: PHASE_S,
    check: 'graphql',
  });
}

export const s5: Scenario = {
  id: 's5',
  title: 'budget',
  run: (settings: BenchSettings) =>
    scoped(async (scope): Promise<ScenarioOutcome> => {
      const emulator = scope.use(await startEmulator({ latencyMs: settings.latencyMs, rateLimit: BUDGET }));
      const { workflowName, instanceIds } = await seedWorkflow(emulator, 'bench-budget', WATCHED);
      const gateway = scope.use(
        await startGateway({ upstreamUrl: emulator.url, rateLimit: BUDGET, pollIntervalMs: settings.pollIntervalMs }),
      );
      await emulator.resetCounts();

      const unloaded = await queryLoad(gateway, workflowName, instanceIds);
      assertClean('unloaded interactive queries', unloaded);

      const subscribers = scope.use(
        startSubscribers({
          url: `${gateway.origin.replace(/^http/, 'ws')}/graphql`,
          connections: CONNECTIONS,
          query: STATUS_SUBSCRIPTION,
          subscriptions: instanceIds.map((instanceId) => ({
            key: instanceId,
            variables: { workflowName, instanceId },
          })),
        }),
      );
      const subscribeStarted = performance.now();
      await subscribers.waitAllLive(90_000);
      const subscribeS = (performance.now() - subscribeStarted) / 1000;

      // Paused instances are the last CHANGES ones: the query load reads the first QUERIED, unchanged.
      const changed = instanceIds.slice(-CHANGES);
      const triggers = new Map<string, Trigger>();
      const since = now();
      const rest = createRest(emulator.url, ACCOUNT_ID, ORCHESTRATOR_TOKEN);
      const spreadMs = (PHASE_S * 1000) / 2 / CHANGES;
      const [loaded] = await Promise.all([
        queryLoad(gateway, workflowName, instanceIds),
        (async () => {
          try {
            // Changes spread over the first half of the measured phase (after the load's warm-up).
            await delay(2000);
            for (const id of changed) {
              triggers.set(id, { sentAt: now(), statuses: new Set(PAUSE_SEEN) });
              await rest.changeStatus(workflowName, id, 'pause');
              await delay(spreadMs);
            }
          } finally {
            await rest.close();
          }
        })(),
      ]);
      // Refusals under load are a result (reported below), not a reason to stop measuring.
      const refused = loaded.badBodies + loaded.non2xx + loaded.errors + loaded.timeouts;
      const deliveredAll = await waitFor(
        'every watched status change to reach its subscriber',
        async () => ((await subscribers.status({ statuses: PAUSE_SEEN, since })).seen >= CHANGES ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 250 },
      ).catch(() => false);
      const delivery = measureDelivery(await subscribers.report(), triggers);
      const countsAtTarget = await emulator.counts();
      // Where the headroom ends: the same watchers with twice the interactive load (half the budget).
      const heavier = await queryLoad(gateway, workflowName, instanceIds, 2 * QUERY_RATE);
      const heavierRefused = heavier.badBodies + heavier.non2xx + heavier.errors + heavier.timeouts;
      const counts = await emulator.counts();
      const status = await subscribers.status();
      const ratio = loaded.latencyMs.p95 / unloaded.latencyMs.p95;

      return {
        metrics: [
          {
            name: '429 answers from the emulator',
            value: countsAtTarget.rateLimited,
            unit: '',
            target: '0',
            verdict: verdict(countsAtTarget.rateLimited === 0),
          },
          {
            name: 'interactive queries refused or failed under load',
            value: refused,
            baseline: loaded.ok + refused,
            unit: '',
            target: '0',
            verdict: verdict(refused === 0),
          },
          {
            name: 'status changes delivered',
            value: delivery.subscriptions - delivery.undelivered,
            baseline: CHANGES,
            ratio: (delivery.subscriptions - delivery.undelivered) / CHANGES,
            unit: '',
            target: 'all',
            verdict: verdict(deliveredAll === true && delivery.undelivered === 0 && delivery.subscriptions === CHANGES),
          },
          {
            name: 'interactive p95 latency, loaded',
            value: loaded.latencyMs.p95,
            baseline: unloaded.latencyMs.p95,
            ratio,
            unit: 'ms',
            target: 'ratio <= 2 (baseline: no subscriptions)',
            verdict: verdict(ratio <= 2),
          },
          {
            name: `interactive queries refused at ${2 * QUERY_RATE} req/s (half the budget)`,
            value: heavierRefused,
            baseline: heavier.ok + heavierRefused,
            unit: '',
            target: 'none (headroom probe)',
            verdict: 'INFO',
          },
          {
            name: '429 answers during the headroom probe',
            value: counts.rateLimited - countsAtTarget.rateLimited,
            unit: '',
            target: 'none (headroom probe)',
            verdict: 'INFO',
          },
          {
            name: 'status change delivery p95 under the budget',
            value: percentile(delivery.latenciesMs, 95),
            unit: 'ms',
            target: 'none',
            verdict: 'INFO',
          },
        ],
        notes: [
          `emulator budget ${BUDGET.limit} requests per ${BUDGET.windowS} s per token, gateway configured to match ` +
            `(UPSTREAM_RATE_LIMIT=${BUDGET.limit}, UPSTREAM_RATE_WINDOW_S=${BUDGET.windowS}); upstream latency ${settings.latencyMs} ms; ` +
            `poll interval ${settings.pollIntervalMs} ms`,
          `${WATCHED} running instances watched (instanceStatusChanged, one subscription each over ${CONNECTIONS} connections; ` +
            `all live after ${subscribeS.toFixed(1)} s); steady interactive load of ${QUERY_RATE} req/s (instance by id, ` +
            `${QUERIED} ids round-robin) for ${PHASE_S} s without and then with the subscriptions`,
          `${CHANGES} instances paused one by one through the emulator REST API (under a separate token, so a separate ` +
            `budget) during the loaded phase; delivery p50 ${percentile(delivery.latenciesMs, 50).toFixed(0)} ms`,
          `interactive p50/p95: unloaded ${unloaded.latencyMs.p50.toFixed(1)}/${unloaded.latencyMs.p95.toFixed(1)} ms ` +
            `(${unloaded.ok} queries), loaded ${loaded.latencyMs.p50.toFixed(1)}/${loaded.latencyMs.p95.toFixed(1)} ms (${loaded.ok} ` +
            `good queries${refused > 0 ? `; ${refused} refused, first: ${loaded.firstBadBody ?? '?'}` : ''})`,
          `upstream since the gateway started, up to the headroom probe: ${countsAtTarget.total} requests ` +
            `(${describeRoutes(countsAtTarget)}; the status changes are the orchestrator's); ${status.errors} subscription errors`,
          `headroom probe: ${2 * QUERY_RATE} req/s for ${PHASE_S} s with the same watchers after the measurement: ` +
            `${heavier.ok} answered, ${heavierRefused} refused${heavier.firstBadBody ? ` (first: ${heavier.firstBadBody.slice(0, 160)})` : ''}`,
        ],
      };
    }),
};
