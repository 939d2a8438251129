import { verdict, type Metric } from './report.js';
import {
  INSTANCES,
  ROUNDS,
  UNLIMITED,
  WARM_UP_ROUNDS,
  sequentialDashboards,
  startDashboardEmulator,
  warmUp,
  type Dashboard,
} from './s2-dashboard.js';
import type { Scenario, ScenarioOutcome } from './scenario.js';
import { scoped } from './scope.js';
import { startGateway } from './stack.js';
import { median, percentile } from './stats.js';

/**
 * S2IO (issue 17, upstream I/O): S2's dashboard against gateways that differ only in their upstream pool,
 * `UPSTREAM_CONNECTIONS` × `UPSTREAM_PIPELINING`; the first is the default.
 */
interface Pool {
  readonly connections: number;
  readonly pipelining: number;
}
const POOLS: readonly Pool[] = [0, 64, 16].flatMap((connections) =>
  [1, 4, 10].map((pipelining) => ({ connections, pipelining })),
);
/**
 * Unmeasured dashboards right before each measured round. A gateway that has sat idle while the others ran costs
 * more per dashboard when it starts again, whatever its setting (why is not established: `--no-flush-bytecode` did
 * not change it): without them, the default pool's rounds cost 16 ms right after its own previous round and 21–28 ms
 * after the other pools' (2026-12-03 16:09Z), and with two rounds per pool the pools measured last looked cheapest
 * (in that day's three full runs, 64 connections 0.54–0.76 of the default, although both open a connection per
 * detail call; `npm run bench -- s2io` with them: the two within 8 % of each other).
 */
const REWARM_ROUNDS = 15;
const FORWARD = POOLS.map((_, i) => i);
/** Forward, then backward, twice: each pool measured early and late, against drift on a shared machine. */
const ROUND_ORDERS = [FORWARD, [...FORWARD].reverse(), FORWARD, [...FORWARD].reverse()];

const label = ({ connections, pipelining }: Pool) =>
  `connections ${connections === 0 ? 'unlimited' : connections}, pipelining ${pipelining}`;

interface Measured {
  readonly samples: number[];
  readonly cpuMsPerRound: number[];
}

export const s2io: Scenario = {
  id: 's2io',
  title: 'dashboard query by upstream pool size and pipelining',
  run: (settings) =>
    scoped(async (scope): Promise<ScenarioOutcome> => {
      const seeded = await startDashboardEmulator(scope, settings);
      const dashboards: Dashboard[] = [];
      for (const pool of POOLS) {
        const env = { UPSTREAM_CONNECTIONS: String(pool.connections), UPSTREAM_PIPELINING: String(pool.pipelining) };
        const gateway = scope.use(await startGateway({ upstreamUrl: seeded.emulator.url, rateLimit: UNLIMITED, env }));
        const dashboard = { ...seeded, gateway };
        await warmUp(dashboard);
        dashboards.push(dashboard);
      }
      const measured: Measured[] = POOLS.map(() => ({ samples: [], cpuMsPerRound: [] }));
      let wrongCalls = '';
      for (const order of ROUND_ORDERS) {
        for (const i of order) {
          await warmUp(dashboards[i] as Dashboard, REWARM_ROUNDS);
          const m = await sequentialDashboards(dashboards[i] as Dashboard, ROUNDS);
          if (m.total !== INSTANCES + 1) wrongCalls ||= `${label(POOLS[i] as Pool)}: ${m.routes}`;
          measured[i]?.samples.push(...m.samples);
          measured[i]?.cpuMsPerRound.push(m.cpuMs);
        }
      }
      const figures = measured.map((m) => ({
        p50: median(m.samples),
        p95: percentile(m.samples, 95),
        cpuMs: median(m.cpuMsPerRound),
      }));
      const base = figures[0] as (typeof figures)[number];
      const metrics: Metric[] = [
        {
          name: 'upstream calls per dashboard, every pool',
          value: wrongCalls === '' ? INSTANCES + 1 : Number.NaN,
          unit: 'calls',
          target: `exactly 1 list + ${INSTANCES} details`,
          verdict: verdict(wrongCalls === ''),
        },
      ];
      POOLS.forEach((pool, i) => {
        const f = figures[i] as (typeof figures)[number];
        const row = (what: string, value: number, baseline: number, unit: string): Metric => ({
          name: `${what}, ${label(pool)}`,
          value,
          baseline,
          ratio: value / baseline,
          unit,
          target: `none (baseline: ${label(POOLS[0] as Pool)}, the default)`,
          verdict: 'INFO',
        });
        metrics.push(
          row('wall time p50', f.p50, base.p50, 'ms'),
          row('wall time p95', f.p95, base.p95, 'ms'),
          row('gateway CPU per dashboard', f.cpuMs, base.cpuMs, 'ms'),
        );
      });
      return {
        metrics,
        notes: [
          `S2's dashboard (${INSTANCES} running instances, 1 list + ${INSTANCES} detail GETs per query, upstream ` +
            `latency ${settings.latencyMs} ms) one query at a time against ${POOLS.length} gateways that differ only ` +
            'in UPSTREAM_CONNECTIONS (unlimited = 0) and UPSTREAM_PIPELINING; each warmed by ' +
            `${WARM_UP_ROUNDS} dashboards, then ${ROUND_ORDERS.length} rounds of ${ROUNDS} dashboards per gateway, ` +
            `each right after ${REWARM_ROUNDS} unmeasured ones, the gateways in order, then in reverse order, twice`,
          'p50/p95 over all the dashboards of a gateway; CPU: user + system time of the gateway process ' +
            "(/proc/<pid>/stat, 10 ms ticks) per dashboard, the median of its rounds'",
          `CPU per dashboard by round: ${POOLS.map((p, i) => `${label(p)} ${measured[i]?.cpuMsPerRound.map((ms) => ms.toFixed(2)).join('/')} ms`).join('; ')}`,
          ...(wrongCalls === '' ? [] : [`first pool with other upstream calls than expected: ${wrongCalls}`]),
        ],
      };
    }),
};
