import { assertClean, graphqlRequest, runSustained } from './load.js';
import type { LoadRequest, SustainedResult } from './load-spec.js';
import { verdict, type Metric } from './report.js';
import type { BenchSettings, Scenario } from './scenario.js';
import { scoped } from './scope.js';
import { seedWorkflow } from './seed.js';
import { startEmulator, startGateway, startPassthrough, type EmulatorProcess } from './stack.js';

const CONCURRENCY = 64;
const IDS = 200;
const WARMUP_S = 2;
/** Neither process may throttle itself here: S1 measures the request path, S5 the budget. */
const UNLIMITED = { limit: 100_000_000, windowS: 300 };

const QUERY = 'query One($workflowName: String!, $id: String!) { instance(workflowName: $workflowName, id: $id) { instanceId status params } }';

interface Side {
  readonly result: SustainedResult;
  /** Upstream instance GETs the emulator answered per good response, over warm-up and measurement. */
  readonly upstreamPerResponse: number;
}

async function measure(
  emulator: EmulatorProcess,
  what: string,
  origin: string,
  requests: readonly LoadRequest[],
  settings: BenchSettings,
): Promise<Side> {
  await emulator.resetCounts();
  const result = await runSustained({
    origin,
    requests,
    connections: CONCURRENCY,
    warmupS: WARMUP_S,
    durationS: settings.loadS,
    check: requests[0]?.path === '/graphql' ? 'graphql' : 'json',
  });
  assertClean(what, result);
  const counts = await emulator.counts();
  return { result, upstreamPerResponse: counts.instanceGets / (result.ok + result.warmupOk) };
}

async function runAt(latencyMs: number, settings: BenchSettings) {
  return scoped(async (scope) => {
    const emulator = scope.use(await startEmulator({ latencyMs }));
    const { workflowName, instanceIds } = await seedWorkflow(emulator, 'bench-s1', IDS);
    const options = { upstreamUrl: emulator.url, rateLimit: UNLIMITED };
    const passthrough = scope.use(await startPassthrough(options));
    const gateway = scope.use(await startGateway(options));
    const enc = encodeURIComponent;
    const baseline = await measure(
      emulator,
      `passthrough at ${latencyMs} ms`,
      passthrough.origin,
      instanceIds.map((id) => ({ method: 'GET', path: `/instance/${enc(workflowName)}/${enc(id)}` })),
      settings,
    );
    const gatewaySide = await measure(
      emulator,
      `gateway at ${latencyMs} ms`,
      gateway.origin,
      instanceIds.map((id) => graphqlRequest(QUERY, { workflowName, id })),
      settings,
    );
    return { baseline, gateway: gatewaySide };
  });
}

export const s1: Scenario = {
  id: 's1',
  title: 'one instance by id',
  async run(settings) {
    const metrics: Metric[] = [];
    const notes: string[] = [
      `concurrency ${CONCURRENCY}, ${WARMUP_S} s warm-up + ${settings.loadS} s per run; ${IDS} different running instances ` +
        'requested round-robin by both sides, so the in-flight de-duplication of the client cannot make one side ' +
        'cheaper than the other: every response needs its own upstream GET (checked below)',
      'baseline: test/bench/passthrough.ts, a node:http server calling createUpstream(...).default.getInstance(..., ' +
        '{ simple: true }) with the gateway\'s own configuration; gateway: POST /graphql ' +
        '`instance(workflowName, id) { instanceId status params }`',
    ];
    const targets = [
      { latencyMs: settings.latencyMs, minRatio: 0.85, p50Target: true },
      { latencyMs: 0, minRatio: 0.5, p50Target: false },
    ];
    for (const { latencyMs, minRatio, p50Target } of targets) {
      const { baseline, gateway } = await runAt(latencyMs, settings);
      const ratio = gateway.result.rps / baseline.result.rps;
      metrics.push({
        name: `throughput, ${latencyMs} ms upstream`,
        value: gateway.result.rps,
        baseline: baseline.result.rps,
        ratio,
        unit: 'req/s',
        target: `ratio >= ${minRatio}`,
        verdict: verdict(ratio >= minRatio),
      });
      const added = gateway.result.latencyMs.p50 - baseline.result.latencyMs.p50;
      metrics.push({
        name: `added p50 latency, ${latencyMs} ms upstream`,
        value: added,
        baseline: baseline.result.latencyMs.p50,
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
      notes.push(
        `${latencyMs} ms: gateway p50/p95/p99 ${fmt(gateway.result)}; passthrough ${fmt(baseline.result)}`,
      );
    }
    notes.push(
      'the p50 target is applied to the I/O-bound run only: at 0 ms both processes saturate the CPU, where ' +
        'p50 ≈ concurrency / throughput, so that figure restates the throughput ratio',
    );
    return { metrics, notes };
  },
};

const fmt = (r: SustainedResult) =>
  `${r.latencyMs.p50.toFixed(2)}/${r.latencyMs.p95.toFixed(2)}/${r.latencyMs.p99.toFixed(2)} ms at ${r.rps.toFixed(0)} req/s`;
