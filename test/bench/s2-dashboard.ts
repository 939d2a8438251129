import { describeRoutes } from './counts.js';
import { cpuDuring } from './cpu.js';
import { assertClean, graphqlRequest, runBurst } from './load.js';
import { verdict } from './report.js';
import { createRest } from './rest.js';
import type { BenchSettings, Scenario, ScenarioOutcome } from './scenario.js';
import { scoped, type Scope } from './scope.js';
import { seedWorkflow } from './seed.js';
import {
  ACCOUNT_ID,
  ORCHESTRATOR_TOKEN,
  startEmulator,
  startGateway,
  type EmulatorProcess,
  type HttpProcess,
} from './stack.js';
import { median } from './stats.js';

export const INSTANCES = 50;
/** Enough dashboards for the gateway's CPU time (10 ms ticks) to be read to a few per cent. */
export const ROUNDS = 30;
/**
 * Like S1's 2 s warm-up: V8 needs dozens of dashboards before the gateway's hot paths are optimised. One gateway's
 * CPU per dashboard by batches of 20 from its start (2026-12-03, an ad-hoc loop over `sequentialDashboards`):
 * 46.5, 19.5, 13.0, then 10.5–15 ms for every batch up to 300 dashboards, its median wall time 68.8, 60.6, 57.2,
 * then 52.6–57 ms. With 20 the measured dashboards fell in the second and third batches.
 */
export const WARM_UP_ROUNDS = 60;
const DASHBOARDS = 50;
export const UNLIMITED = { limit: 100_000_000, windowS: 300 };

/** The dashboard: every instance of one workflow with status, params and its step log. */
export const DASHBOARD_QUERY = `query Dashboard($name: String!) {
  workflow(name: $name) {
    instances(first: ${INSTANCES}) {
      nodes {
        instanceId
        status
        params
        steps { __typename ... on NamedStep { name } }
      }
    }
  }
}`;

export interface Dashboard {
  readonly emulator: EmulatorProcess;
  readonly gateway: HttpProcess;
  readonly workflowName: string;
  readonly instanceIds: readonly string[];
}

/** An emulator at the configured latency with the dashboard's instances (S2IO starts its gateways itself). */
export async function startDashboardEmulator(scope: Scope, settings: BenchSettings) {
  const emulator = scope.use(await startEmulator({ latencyMs: settings.latencyMs }));
  return { emulator, ...(await seedWorkflow(emulator, 'bench-dashboard', INSTANCES)) };
}

async function startDashboard(scope: Scope, settings: BenchSettings): Promise<Dashboard> {
  const seeded = await startDashboardEmulator(scope, settings);
  const gateway = scope.use(await startGateway({ upstreamUrl: seeded.emulator.url, rateLimit: UNLIMITED }));
  return { ...seeded, gateway };
}

/** Upstream calls per dashboard query, wall times and the gateway's CPU, over `rounds` queries one after the other. */
export async function sequentialDashboards(d: Dashboard, rounds: number) {
  await d.emulator.resetCounts();
  // Also counts the gateway's CPU while the load worker starts, which is idle time (no subscriptions, no polls).
  const { value: result, cpuS } = await cpuDuring(d.gateway.child.pid, () =>
    runBurst({
      origin: d.gateway.origin,
      request: graphqlRequest(DASHBOARD_QUERY, { name: d.workflowName }),
      concurrency: 1,
      rounds,
      check: 'graphql',
    }),
  );
  assertClean('dashboard query', result);
  const counts = await d.emulator.counts();
  return {
    wallMs: median(result.roundMs),
    samples: result.roundMs,
    /** Gateway CPU time per dashboard, ms. */
    cpuMs: (cpuS * 1000) / rounds,
    lists: counts.instanceLists / rounds,
    details: counts.instanceGets / rounds,
    total: counts.total / rounds,
    routes: describeRoutes(counts),
  };
}

/** Warms the gateway (JIT, connection pool) without counting: the first query of a process is not typical. */
export async function warmUp(d: Dashboard, rounds = WARM_UP_ROUNDS): Promise<void> {
  assertClean(
    'warm-up dashboard',
    await runBurst({
      origin: d.gateway.origin,
      request: graphqlRequest(DASHBOARD_QUERY, { name: d.workflowName }),
      concurrency: 1,
      rounds,
      check: 'graphql',
    }),
  );
}

export const s2: Scenario = {
  id: 's2',
  title: 'dashboard query',
  run: (settings) =>
    scoped(async (scope): Promise<ScenarioOutcome> => {
      const d = await startDashboard(scope, settings);
      // One upstream round trip, measured from outside the gateway: a full instance GET (with steps).
      const rest = createRest(d.emulator.url, ACCOUNT_ID, ORCHESTRATOR_TOKEN);
      const trips: number[] = [];
      try {
        for (const id of d.instanceIds.slice(0, 10)) trips.push((await rest.getInstance(d.workflowName, id)).ms);
      } finally {
        await rest.close();
      }
      const roundTrip = median(trips);
      await warmUp(d);
      const m = await sequentialDashboards(d, ROUNDS);
      const minimum = m.lists === 1 && m.details === INSTANCES && m.total === INSTANCES + 1;
      const limit = 1.3 * 2 * roundTrip;
      return {
        metrics: [
          {
            name: 'upstream calls per dashboard',
            value: m.total,
            unit: 'calls',
            target: `exactly 1 list + ${INSTANCES} details`,
            verdict: verdict(minimum),
          },
          {
            name: 'wall time per dashboard (median)',
            value: m.wallMs,
            baseline: 2 * roundTrip,
            ratio: m.wallMs / (2 * roundTrip),
            unit: 'ms',
            target: `<= 1.3 × two round trips (${limit.toFixed(1)} ms)`,
            verdict: verdict(m.wallMs <= limit),
          },
          {
            name: 'gateway CPU per dashboard',
            value: m.cpuMs,
            unit: 'ms',
            target: 'none (reported; S2IO compares upstream pool settings by it)',
            verdict: 'INFO',
          },
        ],
        notes: [
          `${INSTANCES} running instances with 3 steps each; upstream latency ${settings.latencyMs} ms; per query ` +
            `${m.lists} list + ${m.details} detail GETs (${m.total} in all), averaged over ${ROUNDS} sequential queries after ${WARM_UP_ROUNDS} warm-up queries; ` +
            `all ${ROUNDS}: ${m.routes}`,
          `round trip = median of 10 full instance GETs sent straight to the emulator: ${roundTrip.toFixed(2)} ms ` +
            `(samples ${trips.map((t) => t.toFixed(1)).join(', ')}); dashboard wall times ${m.samples.map((t) => t.toFixed(1)).join(', ')} ms`,
          `gateway CPU: user + system time of its process (/proc/<pid>/stat, 10 ms ticks) over the ${ROUNDS} ` +
            `dashboards, per dashboard (${(m.cpuMs / m.total).toFixed(3)} ms per upstream call); no passthrough ` +
            'here: the baseline is the two round trips',
        ],
      };
    }),
};

export const s3: Scenario = {
  id: 's3',
  title: `${DASHBOARDS} identical dashboards at once`,
  run: (settings) =>
    scoped(async (scope): Promise<ScenarioOutcome> => {
      const d = await startDashboard(scope, settings);
      await warmUp(d);
      // S2's figure, measured again here so that S3 can run alone and compares within its own run.
      const single = await sequentialDashboards(d, 1);
      await d.emulator.resetCounts();
      const burst = await runBurst({
        origin: d.gateway.origin,
        request: graphqlRequest(DASHBOARD_QUERY, { name: d.workflowName }),
        concurrency: DASHBOARDS,
        rounds: 1,
        check: 'graphql',
      });
      assertClean(`${DASHBOARDS} concurrent dashboards`, burst);
      const counts = await d.emulator.counts();
      const ratio = counts.total / single.total;
      return {
        metrics: [
          {
            name: `upstream calls for ${DASHBOARDS} concurrent dashboards`,
            value: counts.total,
            baseline: single.total,
            ratio,
            unit: 'calls',
            target: 'ratio <= 1.2 (baseline: one dashboard)',
            verdict: verdict(ratio <= 1.2),
          },
          {
            name: `wall time of the ${DASHBOARDS} dashboards`,
            value: burst.roundMs[0] ?? Number.NaN,
            baseline: single.wallMs,
            ratio: (burst.roundMs[0] ?? Number.NaN) / single.wallMs,
            unit: 'ms',
            target: 'none',
            verdict: 'INFO',
          },
        ],
        notes: [
          `${DASHBOARDS} identical dashboard queries sent at once over ${DASHBOARDS} connections: ${counts.instanceLists} list + ` +
            `${counts.instanceGets} detail GETs (${describeRoutes(counts)}); one dashboard alone: ${single.routes}`,
        ],
      };
    }),
};
