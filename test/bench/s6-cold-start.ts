import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { ROOT, spawnTs } from './children.js';
import { verdict, type Metric } from './report.js';
import type { Scenario } from './scenario.js';
import { scoped } from './scope.js';
import { gatewayEnv, startEmulator, GATEWAY_READY_LINE } from './stack.js';
import { median } from './stats.js';
import { Fatal, waitFor } from './wait.js';

const RUNS = 5;
const TARGET_MS = 1500;

interface Entry {
  readonly script: string;
  readonly withoutTsx: boolean;
}

const SOURCE: Entry = { script: 'src/main.ts', withoutTsx: false };

/** One cold start: spawn → first `/healthz` 200, ms. The port is fixed up front so polling can start at once. */
async function coldStart(entry: Entry, upstreamUrl: string, port: number): Promise<number> {
  const started = performance.now();
  const child = spawnTs('gateway (cold start)', entry.script, [], {
    env: gatewayEnv({ upstreamUrl, rateLimit: { limit: 1200, windowS: 300 }, env: { PORT: String(port) } }),
    withoutTsx: entry.withoutTsx,
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

/**
 * The same `src/main.ts`, bundled ahead of time with esbuild (dependencies stay in node_modules): what a
 * build step would give. esbuild comes with tsx, not as a dependency of ours; without it the comparison is skipped.
 */
async function bundleGateway(): Promise<Entry | string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (error) {
    return `esbuild could not be loaded (${(error as Error).message})`;
  }
  // Inside node_modules so that the bundle's bare imports resolve to the project's dependencies.
  const dir = join(ROOT, 'node_modules', '.cache', 'workflows-graphql-bench');
  await mkdir(dir, { recursive: true });
  const outfile = join(dir, 'main.mjs');
  await esbuild.build({
    entryPoints: [join(ROOT, SOURCE.script)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'silent',
  });
  return { script: outfile, withoutTsx: true };
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
      const fromSource = await samples(SOURCE, emulator.url, port);
      const value = median(fromSource);
      const metrics: Metric[] = [
        {
          name: `spawn → /healthz 200 (median of ${RUNS})`,
          value,
          unit: 'ms',
          target: `<= ${TARGET_MS} ms`,
          verdict: verdict(value <= TARGET_MS),
        },
      ];
      const notes = [
        `samples (ms): ${list(fromSource)}; started as \`node --import tsx src/main.ts\` (what \`npm start\` runs, without ` +
          'the npm and tsx CLI wrappers), tsx transpile cache warm, /healthz polled every 5 ms',
      ];
      const bundled = await bundleGateway();
      if (typeof bundled === 'string') {
        notes.push(`no pre-built comparison: ${bundled}`);
      } else {
        await coldStart(bundled, emulator.url, port); // primes the file cache for the bundle too
        const prebuilt = await samples(bundled, emulator.url, port);
        metrics.push({
          name: 'the same, pre-bundled with esbuild (no runtime transpile)',
          value: median(prebuilt),
          baseline: value,
          ratio: median(prebuilt) / value,
          unit: 'ms',
          target: 'none (baseline column: from source)',
          verdict: 'INFO',
        });
        notes.push(`pre-bundled samples (ms): ${list(prebuilt)}; \`node main.mjs\` built by esbuild with dependencies external`);
      }
      return { metrics, notes };
    }),
};
