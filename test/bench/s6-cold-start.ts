import { request } from 'undici';
import { spawnTs } from './children.js';
import { verdict, type Metric } from './report.js';
import type { Scenario } from './scenario.js';
import { scoped } from './scope.js';
import { GATEWAY_BUNDLE, gatewayEnv, startEmulator, GATEWAY_READY_LINE, PRODUCTION_NODE_FLAGS } from './stack.js';
import { median } from './stats.js';
import { Fatal, waitFor } from './wait.js';

const RUNS = 5;
const TARGET_MS = 1500;

interface Entry {
  readonly script: string;
  readonly withoutTsx: boolean;
  readonly nodeFlags: readonly string[];
}

/** What production runs: `npm run start:prod`, the bundle `npm run build` made (run.ts builds it first). */
const BUILT: Entry = { script: GATEWAY_BUNDLE, withoutTsx: true, nodeFlags: PRODUCTION_NODE_FLAGS };
/** What `npm start` runs: TypeScript transpiled by tsx at start-up (development and local use). */
const SOURCE: Entry = { script: 'src/main.ts', withoutTsx: false, nodeFlags: [] };

/** One cold start: spawn → first `/healthz` 200, ms. The port is fixed up front so polling can start at once. */
async function coldStart(entry: Entry, upstreamUrl: string, port: number): Promise<number> {
  const started = performance.now();
  const child = spawnTs('gateway (cold start)', entry.script, [], {
    env: gatewayEnv({ upstreamUrl, rateLimit: { limit: 1200, windowS: 300 }, env: { PORT: String(port) } }),
    withoutTsx: entry.withoutTsx,
    nodeFlags: entry.nodeFlags,
  });
  try {
    await waitFor(
      'the gateway to answer /healthz with 200',
      async () => {
        if (child.process.exitCode !== null) throw new Fatal(`gateway exited early:\n${child.output()}`);
        const response = await request(`http://127.0.0.1:${port}/healthz`, { headersTimeout: 2000 });
        await response.body.dump();
        return response.statusCode === 200 ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 5 },
    );
    return performance.now() - started;
  } finally {
    await child.stop();
  }
}

/** Finds a free loopback port by letting the gateway pick one once (its start-up line names it). */
async function freePort(upstreamUrl: string): Promise<number> {
  const child = spawnTs('gateway (port probe)', SOURCE.script, [], {
    env: gatewayEnv({ upstreamUrl, rateLimit: { limit: 1200, windowS: 300 } }),
  });
  try {
    const [, origin] = await child.waitForLine(GATEWAY_READY_LINE, 20_000);
    return Number(new URL(origin ?? '').port);
  } finally {
    await child.stop();
  }
}

async function samples(entry: Entry, upstreamUrl: string, port: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) out.push(await coldStart(entry, upstreamUrl, port));
  return out;
}

const list = (values: readonly number[]) => values.map((v) => v.toFixed(0)).join(', ');

export const s6: Scenario = {
  id: 's6',
  title: 'cold start',
  run: () =>
    scoped(async (scope) => {
      // The upstream is never called during start-up; it is there so the gateway starts exactly as in S1-S5.
      const emulator = scope.use(await startEmulator({ latencyMs: 0 }));
      // The probe also primes the OS file cache and tsx's transpile cache, as any earlier run would have.
      const port = await freePort(emulator.url);
      await coldStart(BUILT, emulator.url, port); // primes the file cache for the bundle too
      const built = await samples(BUILT, emulator.url, port);
      const value = median(built);
      const fromSource = await samples(SOURCE, emulator.url, port);
      const metrics: Metric[] = [
        {
          name: `spawn → /healthz 200, production build (median of ${RUNS})`,
          value,
          unit: 'ms',
          target: `<= ${TARGET_MS} ms`,
          verdict: verdict(value <= TARGET_MS),
        },
        {
          name: `the same from source with tsx (\`npm start\`, median of ${RUNS})`,
          value: median(fromSource),
          baseline: value,
          ratio: median(fromSource) / value,
          unit: 'ms',
          target: 'none (baseline column: production build)',
          verdict: 'INFO',
        },
      ];
      const notes = [
        `production samples (ms): ${list(built)}; started as \`node ${[...PRODUCTION_NODE_FLAGS, GATEWAY_BUNDLE].join(' ')}\` (what \`npm run start:prod\` runs, ` +
          'built by `npm run build` with dependencies external), /healthz polled every 5 ms',
        `from-source samples (ms): ${list(fromSource)}; \`node --import tsx src/main.ts\` (what \`npm start\` runs, without ` +
          'the npm and tsx CLI wrappers), tsx transpile cache warm',
      ];
      return { metrics, notes };
    }),
};
