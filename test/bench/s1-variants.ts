import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { CPU_NOTE, cpuPerResponse, runSustainedWithCpu, type CpuRun } from './cpu.js';
import { graphqlRequest } from './load.js';
import type { LoadRequest } from './load-spec.js';
import { CONCURRENCY, IDS, QUERY, UNLIMITED, WARMUP_S } from './s1-instance-by-id.js';
import { scoped } from './scope.js';
import { seedWorkflow } from './seed.js';
import { startEmulator, startGateway, type HttpProcess } from './stack.js';

/**
 * S1's load against several gateways that differ only in their environment (S1AUTH: AUTH_MODE; S1OPS: metrics
 * and logging), measured alike: one unmeasured run per gateway, then as many rounds as there are variants, the
 * order rotated by one per round, so that each variant takes each place once and drifting load on a shared
 * machine hits all alike.
 */
export interface GatewayVariant<N extends string> {
  readonly name: N;
  /** Added to the gateway's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** The `Authorization` header every request carries, if any. */
  readonly authorization?: string;
  /** Proves the variant is in force before it is measured; throws when it is not. */
  readonly check?: (gateway: HttpProcess, probe: { workflowName: string; id: string }) => Promise<void>;
}

export interface VariantSide {
  readonly rps: number;
  /** Each run's throughput, in the order of the rounds (a variant runs once per round). */
  readonly rpsPerRun: readonly number[];
  /** Gateway CPU time per good response, µs: the median of the runs' (cpu.ts says why). */
  readonly cpuUs: number;
  /** The same, run by run, to show the spread. */
  readonly cpuUsPerRun: readonly number[];
  /** Mean over the runs of each run's p50, ms. */
  readonly p50: number;
}

function measure(name: string, gateway: HttpProcess, requests: readonly LoadRequest[], loadS: number) {
  return runSustainedWithCpu(`gateway ${name}`, gateway.child.pid, {
    origin: gateway.origin,
    requests,
    connections: CONCURRENCY,
    warmupS: WARMUP_S,
    durationS: loadS,
    check: 'graphql',
  });
}

function combine(runs: readonly CpuRun[]): VariantSide {
  const sum = (f: (r: CpuRun) => number) => runs.reduce((acc, r) => acc + f(r), 0);
  return {
    rps: sum((r) => r.result.ok) / sum((r) => r.result.durationS),
    rpsPerRun: runs.map((r) => r.result.ok / r.result.durationS),
    ...cpuPerResponse(runs),
    p50: sum((r) => r.result.latencyMs.p50) / runs.length,
  };
}

/** Answers S1's query once without credentials: the status a variant's `check` expects. */
export async function probeStatus(gateway: HttpProcess, probe: { workflowName: string; id: string }): Promise<number> {
  const { body, headers, method } = graphqlRequest(QUERY, probe);
  const response = await request(`${gateway.origin}/graphql`, { method, headers, body });
  await response.body.dump();
  return response.statusCode;
}

/**
 * Starts one emulator at `latencyMs` and one gateway per variant (their environments made by `setup` in a
 * temporary directory it may write to), and measures each variant as described above.
 */
export async function compareVariants<N extends string>(options: {
  readonly latencyMs: number;
  readonly loadS: number;
  readonly workflowName: string;
  readonly setup: (dir: string, workflowName: string) => Promise<readonly GatewayVariant<N>[]>;
  /** Measured runs per variant; default: one per variant, so that each variant runs once in every position. */
  readonly rounds?: number;
}): Promise<Record<N, VariantSide>> {
  return scoped(async (scope) => {
    const dir = await mkdtemp(join(os.tmpdir(), `bench-${options.workflowName}-`));
    scope.use({ stop: () => rm(dir, { recursive: true, force: true }) });
    const emulator = scope.use(await startEmulator({ latencyMs: options.latencyMs }));
    const { workflowName, instanceIds } = await seedWorkflow(emulator, options.workflowName, IDS);
    const variants = await options.setup(dir, workflowName);
    const gateways = new Map<N, HttpProcess>();
    const requests = new Map<N, LoadRequest[]>();
    for (const variant of variants) {
      const gateway = scope.use(
        await startGateway({ upstreamUrl: emulator.url, rateLimit: UNLIMITED, env: variant.env }),
      );
      await variant.check?.(gateway, { workflowName, id: instanceIds[0] ?? '' });
      gateways.set(variant.name, gateway);
      requests.set(
        variant.name,
        instanceIds.map((id) => {
          const plain = graphqlRequest(QUERY, { workflowName, id });
          const { authorization } = variant;
          return authorization === undefined ? plain : { ...plain, headers: { ...plain.headers, authorization } };
        }),
      );
    }
    const run = (name: N) => measure(name, gateways.get(name) as HttpProcess, requests.get(name) ?? [], options.loadS);
    // An unmeasured run per gateway first: in trial runs a gateway's first run after its warm-up still cost up to
    // 1.8 times the CPU per request of its later runs, which would weigh on whichever variant it fell to.
    for (const variant of variants) await run(variant.name);
    const runs = new Map<N, CpuRun[]>(variants.map((v) => [v.name, []]));
    for (let round = 0; round < (options.rounds ?? variants.length); round++) {
      for (let i = 0; i < variants.length; i++) {
        const { name } = variants[(round + i) % variants.length] as GatewayVariant<N>;
        runs.get(name)?.push(await run(name));
      }
    }
    return Object.fromEntries([...runs].map(([name, measured]) => [name, combine(measured)])) as Record<N, VariantSide>;
  });
}

/** The notes every variant comparison shares: the load, the rounds and how CPU is measured. */
export function variantNotes(latencyMs: number, loadS: number, rounds: number): string[] {
  return [
    `S1's load (concurrency ${CONCURRENCY}, ${IDS} running instances round-robin, ` +
      '`instance(workflowName, instanceId) { instanceId status params }`) at ' +
      `${latencyMs} ms upstream`,
    `${WARMUP_S} s warm-up + ${loadS} s per run; one unmeasured run per gateway, then ${rounds} runs ` +
      'per variant, the order rotated each round',
    `${CPU_NOTE}; a variant's figure is the median of its runs', its throughput over all its runs`,
  ];
}

export function perRunNote(sides: Record<string, VariantSide>): string {
  const perRun = ([name, side]: [string, VariantSide]) =>
    `${name} ${side.cpuUsPerRun.map((us) => us.toFixed(0)).join('/')} µs (p50 ${side.p50.toFixed(2)} ms)`;
  return `CPU per request by run: ${Object.entries(sides).map(perRun).join('; ')}`;
}

/**
 * `side[i] / baseline[i]` for each round: the runs of a round are adjacent in time, so what other work on the
 * machine does to one it mostly does to the other; a median of these sets aside a round a burst hit on one side.
 */
export function perRoundRatios(side: readonly number[], baseline: readonly number[]): number[] {
  return side.map((value, i) => value / (baseline[i] ?? Number.NaN));
}
