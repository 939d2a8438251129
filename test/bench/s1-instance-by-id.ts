import { assertClean, graphqlRequest, runSustained } from './load.js';
import type { LoadRequest, SustainedResult } from './load-spec.js';
import { verdict, type Metric } from './report.js';
import type { BenchSettings, Scenario } from './scenario.js';
import { scoped } from './scope.js';
import { seedWorkflow } from './seed.js';
import { startEmulator, startGateway, startPassthrough, type EmulatorProcess } from './stack.js';

/** S1's load, which the S1AUTH variant (s1-auth.ts) repeats. */
export const CONCURRENCY = 64;
export const IDS = 200;
export const WARMUP_S = 2;
/** Neither process may throttle itself here: S1 measures the request path, S5 the budget. */
export const UNLIMITED = { limit: 100_000_000, windowS: 300 };

export const QUERY =
  'query One($workflowName: String!, $id: String!) { instance(workflowName: $workflowName, instanceId: $id) { instanceId status params } }';

/** Baseline and gateway runs alternate (B G, then G B) so that drifting load from other work on a shared machine hits both alike. */
const ROUNDS = 2;

/** Several load runs against one side, combined. */
interface Side {
  readonly rps: number;
  /** Mean over the runs of each run's percentile. */
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** Upstream instance GETs the emulator answered per good response, over warm-ups and measurements. */
  readonly upstreamPerResponse: number;
}

interface Run {
  readonly result: SustainedResult;
  readonly upstreamGets: number;
}

async function measure(
  emulator: EmulatorProcess,
  what: string,
  origin: string,
  requests: readonly LoadRequest[],
  loadS: number,
): Promise<Run> {
  await emulator.resetCounts();
  const result = await runSustained({
    origin,
    requests,
    connections: CONCURRENCY,
    warmupS: WARMUP_S,
    durationS: loadS,
    check: requests[0]?.path === '/graphql' ? 'graphql' : 'json',
  });
  assertClean(what, result);
  return { result, upstreamGets: (await emulator.counts()).instanceGets };
}

function combine(runs: readonly Run[]): Side {
  const sum = (f: (r: Run) => number) => runs.reduce((acc, r) => acc + f(r), 0);
  return {
    rps: sum((r) => r.result.ok) / sum((r) => r.result.durationS),
    p50: sum((r) => r.result.latencyMs.p50) / runs.length,
    p95: sum((r) => r.result.latencyMs.p95) / runs.length,
    p99: sum((r) => r.result.latencyMs.p99) / runs.length,
    upstreamPerResponse: sum((r) => r.upstreamGets) / sum((r) => r.result.ok + r.result.warmupOk),
  };
}

async function runAt(latencyMs: number, settings: BenchSettings): Promise<{ baseline: Side; gateway: Side }> {
  return scoped(async (scope) => {
    const emulator = scope.use(await startEmulator({ latencyMs }));
    const { workflowName, instanceIds } = await seedWorkflow(emulator, 'bench-s1', IDS);
    const options = { upstreamUrl: emulator.url, rateLimit: UNLIMITED };
    const passthrough = scope.use(await startPassthrough(options));
    const gateway = scope.use(await startGateway(options));
    const enc = encodeURIComponent;
    const baselineRequests: LoadRequest[] = instanceIds.map((id) => ({
      method: 'GET',
      path: `/instance/${enc(workflowName)}/${enc(id)}`,
    }));
    const gatewayRequests = instanceIds.map((id) => graphqlRequest(QUERY, { workflowName, id }));
    const baselineRuns: Run[] = [];
    const gatewayRuns: Run[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const runBaseline = async () =>
        baselineRuns.push(
          await measure(
            emulator,
            `passthrough at ${latencyMs} ms`,
            passthrough.origin,
            baselineRequests,
            settings.loadS,
          ),
        );
      const runGateway = async () =>
        gatewayRuns.push(
          await measure(emulator, `gateway at ${latencyMs} ms`, gateway.origin, gatewayRequests, settings.loadS),
        );
      for (const run of round % 2 === 0 ? [runBaseline, runGateway] : [runGateway, runBaseline]) await run();
    }
    return { baseline: combine(baselineRuns), gateway: combine(gatewayRuns) };
  });
}

export const s1: Scenario = {
  id: 's1',
  title: 'one instance by id',
  async run(settings) {
    const metrics: Metric[] = [];
    const notes: string[] = [
      `concurrency ${CONCURRENCY}, ${WARMUP_S} s warm-up + ${settings.loadS} s per run, ${ROUNDS} runs per side alternating ` +
        `(baseline first, then gateway first); ` +
        `${IDS} different running instances ` +
        'requested round-robin by both sides, so the in-flight de-duplication of the client cannot make one side ' +
        'cheaper than the other: every response needs its own upstream GET (checked below)',
      'baseline: test/bench/passthrough.ts, a node:http server calling createUpstream(...).default.getInstance(..., ' +
        "{ simple: true }) with the gateway's own configuration; gateway: POST /graphql " +
        '`instance(workflowName, id) { instanceId status params }`',
    ];
    const targets = [
      { latencyMs: settings.latencyMs, minRatio: 0.85, p50Target: true },
      { latencyMs: 0, minRatio: 0.5, p50Target: false },
    ];
    for (const { latencyMs, minRatio, p50Target } of targets) {
      const { baseline, gateway } = await runAt(latencyMs, settings);
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
        target: p50Target ? '<= 2 ms' : 'none (CPU-bound: p50 = concurrency / throughput)',
        verdict: p50Target ? verdict(added <= 2) : 'INFO',
      });
      metrics.push({
        name: `upstream GETs per response, ${latencyMs} ms upstream`,
        value: gateway.upstreamPerResponse,
        baseline: baseline.upstreamPerResponse,
        unit: '',
        target: 'about 1 on both sides (comparable work)',
        verdict: 'INFO',
      });
      notes.push(`${latencyMs} ms: gateway p50/p95/p99 ${fmt(gateway)}; passthrough ${fmt(baseline)}`);
    }
    notes.push(
      'the p50 target is applied to the I/O-bound run only: at 0 ms both processes saturate the CPU, where ' +
        'p50 ≈ concurrency / throughput, so that figure restates the throughput ratio',
    );
    return { metrics, notes };
  },
};

const fmt = (side: Side) =>
  `${side.p50.toFixed(2)}/${side.p95.toFixed(2)}/${side.p99.toFixed(2)} ms at ${side.rps.toFixed(0)} req/s`;
