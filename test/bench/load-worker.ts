/**
 * The load-generator process: `node --import tsx test/bench/load-worker.ts`, started by `load.ts`, which
 * sends it a {@link LoadSpec} over IPC. Runs one load and prints one `LOAD-RESULT {json}` line. Running apart from the orchestrator keeps the
 * generator's CPU out of the orchestrator's timers and makes it the third process the issue asks for.
 */
import autocannon, { type AutocannonOptions, type AutocannonResult } from 'autocannon';
import { Pool } from 'undici';
import { exitWithParent, receiveJob } from './children.js';
import {
  checkBody,
  MEASURE_MESSAGE,
  RESULT_PREFIX,
  WARM_MESSAGE,
  type BurstLoad,
  type BurstResult,
  type LoadRequest,
  type LoadSpec,
  type SustainedLoad,
  type SustainedResult,
} from './load-spec.js';
import { mean, percentile } from './stats.js';

async function runAutocannon(spec: SustainedLoad, durationS: number): Promise<Omit<SustainedResult, 'warmupOk'>> {
  let next = 0;
  const requests = spec.requests;
  /** Latencies of good responses only: a fast refusal must not improve the figures. */
  const latencies: number[] = [];
  let lastResponseTime: number | undefined;
  let badBodies = 0;
  let firstBadBody: string | undefined;
  const options: AutocannonOptions = {
    url: spec.origin,
    connections: spec.connections,
    duration: durationS,
    timeout: 10,
    requests: [
      {
        // One shared counter: requests go round-robin over the whole list, whichever connection is free.
        setupRequest: (request) => {
          const chosen = requests[next++ % requests.length] as LoadRequest;
          return {
            ...request,
            method: chosen.method,
            path: chosen.path,
            body: chosen.body ?? '',
            headers: { ...chosen.headers },
          };
        },
      },
    ],
    verifyBody: (body) => {
      const problem = checkBody(spec.check, body);
      // autocannon emits `response` and then calls verifyBody synchronously for the same response.
      const responseTime = lastResponseTime;
      lastResponseTime = undefined;
      if (problem === undefined) {
        if (responseTime !== undefined) latencies.push(responseTime);
        return true;
      }
      badBodies++;
      firstBadBody ??= `${problem}: ${body.slice(0, 300)}`;
      return false;
    },
    ...(spec.overallRate === undefined ? {} : { overallRate: spec.overallRate }),
  };
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(options, (error, res) => (error ? reject(error) : resolve(res)));
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      lastResponseTime = statusCode >= 200 && statusCode < 300 ? responseTime : undefined;
    });
  });
  const twoXx = Object.entries(result.statusCodeStats)
    .filter(([code]) => code.startsWith('2'))
    .reduce((sum, [, { count }]) => sum + Number(count), 0);
  const ok = Math.max(0, twoXx - badBodies);
  return {
    kind: 'sustained',
    ok,
    non2xx: result.non2xx,
    badBodies,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    rps: ok / result.duration,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      mean: mean(latencies),
      max: latencies.reduce((m, v) => Math.max(m, v), 0),
    },
    ...(firstBadBody === undefined ? {} : { firstBadBody }),
  };
}

async function runSustained(spec: SustainedLoad): Promise<SustainedResult> {
  // Warm-up: connection pools fill, the JIT settles, caches of the gateway and the baseline alike warm.
  const warmup = spec.warmupS > 0 ? await runAutocannon(spec, spec.warmupS) : undefined;
  if (spec.pauseAfterWarmup) await waitForOrchestrator();
  return { ...(await runAutocannon(spec, spec.durationS)), warmupOk: warmup?.ok ?? 0 };
}

/** Tells the orchestrator the warm-up is over and waits until it has read its counters. */
function waitForOrchestrator(): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('pauseAfterWarmup needs the IPC channel of the orchestrator'));
      return;
    }
    const onMessage = (message: { type?: string }) => {
      if (message.type !== MEASURE_MESSAGE) return;
      process.off('message', onMessage);
      resolve();
    };
    process.on('message', onMessage);
    process.send({ type: WARM_MESSAGE });
  });
}

async function runBurst(spec: BurstLoad): Promise<BurstResult> {
  const pool = new Pool(spec.origin, { connections: spec.concurrency, pipelining: 1 });
  const roundMs: number[] = [];
  const requestMs: number[] = [];
  let ok = 0;
  let failed = 0;
  let firstBadBody: string | undefined;
  try {
    for (let round = 0; round < spec.rounds; round++) {
      const started = performance.now();
      await Promise.all(
        Array.from({ length: spec.concurrency }, async () => {
          const sent = performance.now();
          try {
            const response = await pool.request({
              method: spec.request.method,
              path: spec.request.path,
              headers: { ...spec.request.headers },
              ...(spec.request.body === undefined ? {} : { body: spec.request.body }),
            });
            const body = await response.body.text();
            requestMs.push(performance.now() - sent);
            const problem = response.statusCode === 200 ? checkBody(spec.check, body) : `HTTP ${response.statusCode}`;
            if (problem === undefined) ok++;
            else {
              failed++;
              firstBadBody ??= `${problem}: ${body.slice(0, 300)}`;
            }
          } catch (error) {
            failed++;
            firstBadBody ??= `request failed: ${error instanceof Error ? error.message : String(error)}`;
          }
        }),
      );
      roundMs.push(performance.now() - started);
    }
  } finally {
    await pool.close();
  }
  return { kind: 'burst', roundMs, requestMs, ok, failed, ...(firstBadBody === undefined ? {} : { firstBadBody }) };
}

async function main(): Promise<void> {
  exitWithParent();
  const spec = await receiveJob<LoadSpec>();
  const result = spec.kind === 'sustained' ? await runSustained(spec) : await runBurst(spec);
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `load worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
