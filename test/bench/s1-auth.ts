import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { BENCH_AUTH_MODES, createAuthSetups, type BenchAuthMode } from './auth-modes.js';
import { assertClean, graphqlRequest, runSustained } from './load.js';
import type { LoadRequest, SustainedResult } from './load-spec.js';
import { readCpuSeconds } from './proc.js';
import { verdict, type Metric } from './report.js';
import { CONCURRENCY, IDS, QUERY, UNLIMITED, WARMUP_S } from './s1-instance-by-id.js';
import type { Scenario } from './scenario.js';
import { scoped } from './scope.js';
import { seedWorkflow } from './seed.js';
import { startEmulator, startGateway, type HttpProcess } from './stack.js';
import { median } from './stats.js';

/** Issue 11: authentication adds at most 5 % CPU per request. */
const MAX_CPU_RATIO = 1.05;

/**
 * Each round runs every mode once, the order rotated by one per round (none api-key jwt, api-key jwt none,
 * jwt none api-key): each mode takes each place once, so drifting load on a shared machine hits all alike.
 */
const ROUNDS = BENCH_AUTH_MODES.length;

interface Run {
  readonly result: SustainedResult;
  /** Gateway CPU time (user + system) from the end of the warm-up to the end of the measured run, s. */
  readonly cpuS: number;
}

interface Side {
  readonly rps: number;
  /**
   * Gateway CPU time per good response, µs: the median of the runs', since a run disturbed by other work on a
   * shared machine (seen at 1.5 times its neighbours) moves a median less than a total.
   */
  readonly cpuUs: number;
  /** The same, run by run, to show the spread. */
  readonly cpuUsPerRun: readonly number[];
  /** Mean over the runs of each run's p50, ms. */
  readonly p50: number;
}

async function measure(mode: BenchAuthMode, gateway: HttpProcess, requests: readonly LoadRequest[], loadS: number) {
  let before: number | undefined;
  const result = await runSustained(
    {
      origin: gateway.origin,
      requests,
      connections: CONCURRENCY,
      warmupS: WARMUP_S,
      durationS: loadS,
      check: 'graphql',
    },
    {
      afterWarmup: async () => {
        before = await readCpuSeconds(gateway.child.pid);
      },
    },
  );
  const after = await readCpuSeconds(gateway.child.pid);
  assertClean(`gateway with AUTH_MODE ${mode}`, result);
  if (before === undefined) throw new Error('the load worker never reported the end of its warm-up');
  return { result, cpuS: after - before };
}

function combine(runs: readonly Run[]): Side {
  const sum = (f: (r: Run) => number) => runs.reduce((acc, r) => acc + f(r), 0);
  const cpuUsPerRun = runs.map((r) => (r.cpuS / r.result.ok) * 1e6);
  return {
    rps: sum((r) => r.result.ok) / sum((r) => r.result.durationS),
    cpuUs: median(cpuUsPerRun),
    cpuUsPerRun,
    p50: sum((r) => r.result.latencyMs.p50) / runs.length,
  };
}

/**
 * Proves the mode is in force before measuring it: without a credential, an authenticating gateway answers 401
 * and `none` answers the query.
 */
async function checkMode(mode: BenchAuthMode, gateway: HttpProcess, workflowName: string, id: string): Promise<void> {
  const { body, headers, method } = graphqlRequest(QUERY, { workflowName, id });
  const response = await request(`${gateway.origin}/graphql`, { method, headers, body });
  await response.body.dump();
  const expected = mode === 'none' ? 200 : 401;
  if (response.statusCode !== expected) {
    throw new Error(`AUTH_MODE ${mode}: a request without credential answered ${response.statusCode}, not ${expected}`);
  }
}

async function runModes(latencyMs: number, loadS: number): Promise<Record<BenchAuthMode, Side>> {
  return scoped(async (scope) => {
    const dir = await mkdtemp(join(os.tmpdir(), 'bench-s1auth-'));
    scope.use({ stop: () => rm(dir, { recursive: true, force: true }) });
    const emulator = scope.use(await startEmulator({ latencyMs }));
    const { workflowName, instanceIds } = await seedWorkflow(emulator, 'bench-s1-auth', IDS);
    const setups = await createAuthSetups(dir, workflowName);
    const gateways = {} as Record<BenchAuthMode, HttpProcess>;
    const requests = {} as Record<BenchAuthMode, LoadRequest[]>;
    for (const mode of BENCH_AUTH_MODES) {
      const { env, authorization } = setups[mode];
      gateways[mode] = scope.use(await startGateway({ upstreamUrl: emulator.url, rateLimit: UNLIMITED, env }));
      await checkMode(mode, gateways[mode], workflowName, instanceIds[0] ?? '');
      requests[mode] = instanceIds.map((id) => {
        const plain = graphqlRequest(QUERY, { workflowName, id });
        return { ...plain, headers: { ...plain.headers, authorization } };
      });
    }
    // An unmeasured run per gateway first: in trial runs a gateway's first run after its warm-up still cost up to
    // 1.8 times the CPU per request of its later runs, which would weigh on whichever mode it fell to.
    for (const mode of BENCH_AUTH_MODES) await measure(mode, gateways[mode], requests[mode], loadS);
    const runs: Record<BenchAuthMode, Run[]> = { none: [], 'api-key': [], jwt: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < BENCH_AUTH_MODES.length; i++) {
        const mode = BENCH_AUTH_MODES[(round + i) % BENCH_AUTH_MODES.length] as BenchAuthMode;
        runs[mode].push(await measure(mode, gateways[mode], requests[mode], loadS));
      }
    }
    return { none: combine(runs.none), 'api-key': combine(runs['api-key']), jwt: combine(runs.jwt) };
  });
}

export const s1auth: Scenario = {
  id: 's1auth',
  title: 'one instance by id, authenticated',
  async run(settings) {
    const sides = await runModes(settings.latencyMs, settings.loadS);
    const none = sides.none;
    const metrics: Metric[] = [];
    for (const mode of ['api-key', 'jwt'] as const) {
      const side = sides[mode];
      const ratio = side.cpuUs / none.cpuUs;
      metrics.push({
        name: `gateway CPU per request, ${mode} vs none`,
        value: side.cpuUs,
        baseline: none.cpuUs,
        ratio,
        unit: 'µs',
        target: `ratio <= ${MAX_CPU_RATIO}`,
        verdict: verdict(ratio <= MAX_CPU_RATIO),
      });
    }
    for (const mode of ['api-key', 'jwt'] as const) {
      metrics.push({
        name: `throughput, ${mode} vs none`,
        value: sides[mode].rps,
        baseline: none.rps,
        ratio: sides[mode].rps / none.rps,
        unit: 'req/s',
        target: 'none (the target is on CPU per request)',
        verdict: 'INFO',
      });
    }
    const perRun = (mode: BenchAuthMode) =>
      `${mode} ${sides[mode].cpuUsPerRun.map((us) => us.toFixed(0)).join('/')} µs (p50 ${sides[mode].p50.toFixed(2)} ms)`;
    return {
      metrics,
      notes: [
        `S1's load (concurrency ${CONCURRENCY}, ${IDS} running instances round-robin, ` +
          '`instance(workflowName, id) { instanceId status params }`) at ' +
          `${settings.latencyMs} ms upstream against three gateways, one per AUTH_MODE: unset (none), api-key ` +
          '(an API_KEYS_FILE with one key made by createApiKey) and jwt (HS256 JWT_SECRET, a token signed with ' +
          'jose); both grant workflows:read on the one workflow queried. Every request carries ' +
          '`Authorization: Bearer …` (none gets the JWT, the longest credential)',
        `${WARMUP_S} s warm-up + ${settings.loadS} s per run; one unmeasured run per gateway, then ${ROUNDS} runs ` +
          'per mode, the order rotated each round (none api-key jwt, api-key jwt none, jwt none api-key)',
        "CPU: the gateway process's user + system time (/proc/<pid>/stat, every thread, 10 ms ticks) from the end " +
          'of the warm-up to the end of the run, over its good responses (requests in flight at either edge ' +
          "count alike on every side); a mode's figure is the median of its runs', its throughput over all its runs",
        `CPU per request by run: ${BENCH_AUTH_MODES.map(perRun).join('; ')}`,
      ],
    };
  },
};
