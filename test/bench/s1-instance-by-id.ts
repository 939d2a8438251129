import { CPU_NOTE, cpuPerResponse, runSustainedWithCpu, type CpuRun } from './cpu.js';
import { graphqlRequest } from './load.js';
import type { LoadRequest } from './load-spec.js';
import { verdict, type Metric } from './report.js';
import type { BenchSettings, Scenario } from './scenario.js';
import { scoped } from './scope.js';
import { seedWorkflow } from './seed.js';
import { startEmulator, startGateway, startPassthrough, type EmulatorProcess, type HttpProcess } from './stack.js';

/** S1's load, which the S1AUTH variant (s1-auth.ts) repeats. */
export const CONCURRENCY = 64;
export const IDS = 200;
export const WARMUP_S = 2;
/** Neither process may throttle itself here: S1 measures the request path, S5 the budget. */
export const UNLIMITED = { limit: 100_000_000, windowS: 300 };

export const QUERY =
  'query One($workflowName: String!, $id: String!) { instance(workflowName: $workflowName, instanceId: $id) { instanceId status params } }';

/**
 * The floors (at the configured latency only): what each server costs without the upstream call. The gateway's is a
 * query yoga's pipeline answers alone (HTTP, parse and validation caches, every plugin, execution, serialisation);
 * the passthrough's its `/healthz`. The passthrough's request minus its floor is what its upstream call costs, and
 * the gateway makes the same call through the same client: the gateway's floor plus that estimates the least CPU
 * per request this GraphQL server could reach for S1's query, however cheap its resolvers. An estimate: the floors
 * run CPU-bound (nothing to wait for), where a request costs a little less than at S1's rate.
 */
const FLOOR_QUERY = 'query Floor { __typename }';

/** The sides' runs alternate (in order, then in reverse order) so that drifting load from other work on a shared machine hits them alike. */
const ROUNDS = 2;
/** Issue 17: the gateway's CPU per request at most 1.5 times the passthrough's, at the configured latency. */
const MAX_CPU_RATIO = 1.5;

/** Several load runs against one side, combined. */
interface Side {
  readonly rps: number;
  /** Mean over the runs of each run's percentile. */
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** Upstream instance GETs the emulator answered per good response, over warm-ups and measurements. */
  readonly upstreamPerResponse: number;
  /** The process's CPU time per good response, µs: the median of the runs' (cpu.ts says why). */
  readonly cpuUs: number;
  readonly cpuUsPerRun: readonly number[];
}

interface Run extends CpuRun {
  readonly upstreamGets: number;
}

async function measure(
  emulator: EmulatorProcess,
  what: string,
  side: HttpProcess,
  requests: readonly LoadRequest[],
  loadS: number,
): Promise<Run> {
  await emulator.resetCounts();
  const run = await runSustainedWithCpu(what, side.child.pid, {
    origin: side.origin,
    requests,
    connections: CONCURRENCY,
    warmupS: WARMUP_S,
    durationS: loadS,
    check: requests[0]?.path === '/graphql' ? 'graphql' : 'json',
  });
  return { ...run, upstreamGets: (await emulator.counts()).instanceGets };
}

function combine(runs: readonly Run[]): Side {
  const sum = (f: (r: Run) => number) => runs.reduce((acc, r) => acc + f(r), 0);
  return {
    rps: sum((r) => r.result.ok) / sum((r) => r.result.durationS),
    p50: sum((r) => r.result.latencyMs.p50) / runs.length,
    p95: sum((r) => r.result.latencyMs.p95) / runs.length,
    p99: sum((r) => r.result.latencyMs.p99) / runs.length,
    upstreamPerResponse: sum((r) => r.upstreamGets) / sum((r) => r.result.ok + r.result.warmupOk),
    ...cpuPerResponse(runs),
  };
}

type SideName = 'baseline' | 'gateway' | 'gatewayFloor' | 'baselineFloor';

async function runAt(
  latencyMs: number,
  settings: BenchSettings,
  withFloors: boolean,
): Promise<Partial<Record<SideName, Side>> & { baseline: Side; gateway: Side }> {
  return scoped(async (scope) => {
    const emulator = scope.use(await startEmulator({ latencyMs }));
    const { workflowName, instanceIds } = await seedWorkflow(emulator, 'bench-s1', IDS);
    const options = { upstreamUrl: emulator.url, rateLimit: UNLIMITED };
    const passthrough = scope.use(await startPassthrough(options));
    const gateway = scope.use(await startGateway(options));
    const enc = encodeURIComponent;
    const load: Record<SideName, readonly [HttpProcess, LoadRequest[]]> = {
      baseline: [
        passthrough,
        instanceIds.map((id) => ({ method: 'GET', path: `/instance/${enc(workflowName)}/${enc(id)}` })),
      ],
      gateway: [gateway, instanceIds.map((id) => graphqlRequest(QUERY, { workflowName, id }))],
      gatewayFloor: [gateway, [graphqlRequest(FLOOR_QUERY)]],
      baselineFloor: [passthrough, [{ method: 'GET', path: '/healthz' }]],
    };
    const sides: SideName[] = withFloors
      ? ['baseline', 'gateway', 'gatewayFloor', 'baselineFloor']
      : ['baseline', 'gateway'];
    const runs = new Map<SideName, Run[]>(sides.map((side) => [side, []]));
    const run = (side: SideName) => {
      const [server, requests] = load[side];
      return measure(emulator, `${side} at ${latencyMs} ms`, server, requests, settings.loadS);
    };
    // One unmeasured run per side first, as in s1-variants.ts: a first run after the warm-up still costs more CPU
    // per request than later ones.
    for (const side of sides) await run(side);
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) runs.get(side)?.push(await run(side));
    }
    const combined = (side: SideName) => combine(runs.get(side) ?? []);
    return {
      baseline: combined('baseline'),
      gateway: combined('gateway'),
      ...(withFloors ? { gatewayFloor: combined('gatewayFloor'), baselineFloor: combined('baselineFloor') } : {}),
    };
  });
}

export const s1: Scenario = {
  id: 's1',
  title: 'one instance by id',
  async run(settings) {
    const metrics: Metric[] = [];
    const notes: string[] = [
      `concurrency ${CONCURRENCY}, ${WARMUP_S} s warm-up + ${settings.loadS} s per run; one unmeasured run per side, ` +
        `then ${ROUNDS} runs per side alternating (in order, then in reverse order); ` +
        `${IDS} different running instances ` +
        'requested round-robin by both sides, so the in-flight de-duplication of the client cannot make one side ' +
        'cheaper than the other: every response needs its own upstream GET (checked below)',
      'baseline: test/bench/passthrough.ts, a node:http server calling createUpstream(...).default.getInstance(..., ' +
        "{ simple: true }) with the gateway's own configuration; gateway: POST /graphql " +
        '`instance(workflowName, id) { instanceId status params }`',
    ];
    const targets = [
      { latencyMs: settings.latencyMs, minRatio: 0.85, primary: true },
      { latencyMs: 0, minRatio: 0.5, primary: false },
    ];
    for (const { latencyMs, minRatio, primary } of targets) {
      const { baseline, gateway, gatewayFloor, baselineFloor } = await runAt(latencyMs, settings, primary);
      const cpuRatio = gateway.cpuUs / baseline.cpuUs;
      metrics.push({
        name: `CPU per request, ${latencyMs} ms upstream`,
        value: gateway.cpuUs,
        baseline: baseline.cpuUs,
        ratio: cpuRatio,
        unit: 'µs',
        target: primary ? `ratio <= ${MAX_CPU_RATIO}` : `none (the target applies at ${settings.latencyMs} ms)`,
        verdict: primary ? verdict(cpuRatio <= MAX_CPU_RATIO) : 'INFO',
      });
      if (gatewayFloor && baselineFloor) {
        const upstreamCallUs = baseline.cpuUs - baselineFloor.cpuUs;
        metrics.push(
          {
            name: `CPU per request without an upstream call, ${latencyMs} ms upstream`,
            value: gatewayFloor.cpuUs,
            baseline: baselineFloor.cpuUs,
            ratio: gatewayFloor.cpuUs / baselineFloor.cpuUs,
            unit: 'µs',
            target: `none (gateway \`${FLOOR_QUERY}\`, passthrough /healthz)`,
            verdict: 'INFO',
          },
          {
            name: `least CPU per request S1's query could cost on this GraphQL server (estimate), ${latencyMs} ms upstream`,
            value: gatewayFloor.cpuUs + upstreamCallUs,
            baseline: baseline.cpuUs,
            ratio: (gatewayFloor.cpuUs + upstreamCallUs) / baseline.cpuUs,
            unit: 'µs',
            target: "none (the gateway's floor plus the passthrough's upstream call, which the gateway makes alike)",
            verdict: 'INFO',
          },
        );
      }
      const ratio = gateway.rps / baseline.rps;
      metrics.push({
        name: `throughput, ${latencyMs} ms upstream`,
        value: gateway.rps,
        baseline: baseline.rps,
        ratio,
        unit: 'req/s',
        target: `ratio >= ${minRatio}`,
        verdict: verdict(ratio >= minRatio),
      });
      const added = gateway.p50 - baseline.p50;
      metrics.push({
        name: `added p50 latency, ${latencyMs} ms upstream`,
        value: added,
        baseline: baseline.p50,
        unit: 'ms',
        target: primary ? '<= 2 ms' : 'none (CPU-bound: p50 = concurrency / throughput)',
        verdict: primary ? verdict(added <= 2) : 'INFO',
      });
      metrics.push({
        name: `upstream GETs per response, ${latencyMs} ms upstream`,
        value: gateway.upstreamPerResponse,
        baseline: baseline.upstreamPerResponse,
        unit: '',
        target: 'about 1 on both sides (comparable work)',
        verdict: 'INFO',
      });
      notes.push(
        `${latencyMs} ms: gateway p50/p95/p99 ${fmt(gateway)}; passthrough ${fmt(baseline)}; CPU per request by run: ` +
          `gateway ${perRun(gateway)}, passthrough ${perRun(baseline)}` +
          (gatewayFloor && baselineFloor
            ? `; without an upstream call: gateway ${perRun(gatewayFloor)}, passthrough ${perRun(baselineFloor)}`
            : '') +
          ' µs',
      );
    }
    notes.push(
      `${CPU_NOTE}; a side's figure is the median of its runs' (the primary target: far steadier than throughput ` +
        'on a shared machine, as it does not depend on how much CPU other work leaves to the process)',
    );
    notes.push(
      'the p50 target is applied to the I/O-bound run only: at 0 ms both processes saturate the CPU, where ' +
        'p50 ≈ concurrency / throughput, so that figure restates the throughput ratio',
    );
    return { metrics, notes };
  },
};

const perRun = (side: Side) => side.cpuUsPerRun.map((us) => us.toFixed(0)).join('/');
const fmt = (side: Side) =>
  `${side.p50.toFixed(2)}/${side.p95.toFixed(2)}/${side.p99.toFixed(2)} ms at ${side.rps.toFixed(0)} req/s`;
