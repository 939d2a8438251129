import { sendJob, spawnTs } from './children.js';
import {
  MEASURE_MESSAGE,
  RESULT_PREFIX,
  WARM_MESSAGE,
  type BurstLoad,
  type BurstResult,
  type LoadResult,
  type LoadSpec,
  type SustainedLoad,
  type SustainedResult,
} from './load-spec.js';

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Runs `spec` in a fresh load-generator process and returns what it measured. With `afterWarmup`, the worker
 * pauses after its warm-up until that callback has resolved.
 */
async function runLoad(spec: LoadSpec, afterWarmup?: () => Promise<void>): Promise<LoadResult> {
  const worker = spawnTs('load generator', 'test/bench/load-worker.ts', [], { ipc: true });
  sendJob(worker, afterWarmup === undefined ? spec : { ...spec, pauseAfterWarmup: true });
  let callbackFailure: unknown;
  if (afterWarmup !== undefined) {
    worker.process.on('message', (message: { type?: string }) => {
      if (message.type !== WARM_MESSAGE) return;
      afterWarmup().then(
        () => worker.process.send({ type: MEASURE_MESSAGE }),
        (error: unknown) => {
          // The worker would wait for the go-ahead until its deadline: stop it, and report this error instead.
          callbackFailure = error;
          void worker.stop();
        },
      );
    });
  }
  const budgetMs =
    spec.kind === 'sustained' ? (spec.warmupS + spec.durationS) * 1000 + 30_000 : spec.rounds * 30_000 + 10_000;
  try {
    const [, json] = await worker.waitForLine(new RegExp(`^${escape(RESULT_PREFIX)}(.*)$`), budgetMs);
    return JSON.parse(json ?? '') as LoadResult;
  } catch (error) {
    throw callbackFailure ?? error;
  } finally {
    await worker.stop();
  }
}

/**
 * A sustained load; `options.afterWarmup` runs between the warm-up and the measured run (reading the gateway's
 * CPU time there keeps the warm-up's out of it).
 */
export async function runSustained(
  spec: Omit<SustainedLoad, 'kind' | 'pauseAfterWarmup'>,
  options: { afterWarmup?: () => Promise<void> } = {},
): Promise<SustainedResult> {
  const result = await runLoad({ kind: 'sustained', ...spec }, options.afterWarmup);
  if (result.kind !== 'sustained') throw new Error('load worker answered a burst result to a sustained load');
  return result;
}

export async function runBurst(spec: Omit<BurstLoad, 'kind'>): Promise<BurstResult> {
  const result = await runLoad({ kind: 'burst', ...spec });
  if (result.kind !== 'burst') throw new Error('load worker answered a sustained result to a burst load');
  return result;
}

/** Throws when a load run saw failures: a figure measured over failing requests would flatter the target. */
export function assertClean(what: string, result: LoadResult): void {
  if (result.kind === 'sustained') {
    const bad = result.non2xx + result.badBodies + result.errors + result.timeouts;
    if (result.ok === 0 || bad > 0) {
      throw new Error(
        `${what}: ${result.ok} good responses, ${result.non2xx} non-2xx, ${result.badBodies} bad bodies, ` +
          `${result.errors} errors, ${result.timeouts} timeouts${result.firstBadBody ? `; first bad body: ${result.firstBadBody}` : ''}`,
      );
    }
  } else if (result.failed > 0 || result.ok === 0) {
    throw new Error(
      `${what}: ${result.ok} good, ${result.failed} failed; first failure: ${result.firstBadBody ?? 'none'}`,
    );
  }
}

/** A GraphQL POST as the load generator sends it. */
export function graphqlRequest(query: string, variables?: Record<string, unknown>) {
  return {
    method: 'POST' as const,
    path: '/graphql',
    body: JSON.stringify(variables === undefined ? { query } : { query, variables }),
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
  };
}
