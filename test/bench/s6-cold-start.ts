import { request } from 'undici';
import { spawnTs } from './children.js';
import { verdict } from './report.js';
import type { Scenario } from './scenario.js';
import { gatewayEnv, startEmulator, GATEWAY_READY_LINE } from './stack.js';
import { median } from './stats.js';
import { waitFor } from './wait.js';

const RUNS = 5;
const TARGET_MS = 1500;

/** One cold start: spawn → first `/healthz` 200, ms. The port is fixed up front so polling can start at once. */
async function coldStart(upstreamUrl: string, port: number): Promise<number> {
  const started = performance.now();
  const child = spawnTs('gateway (cold start)', 'src/main.ts', [], {
    env: gatewayEnv({ upstreamUrl, rateLimit: { limit: 1200, windowS: 300 }, env: { PORT: String(port) } }),
  });
  try {
    await waitFor(
      'the gateway to answer /healthz with 200',
      async () => {
        if (child.process.exitCode !== null) throw new Error(`gateway exited early:\n${child.output()}`);
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
  const child = spawnTs('gateway (port probe)', 'src/main.ts', [], {
    env: gatewayEnv({ upstreamUrl, rateLimit: { limit: 1200, windowS: 300 } }),
  });
  try {
    const [, origin] = await child.waitForLine(GATEWAY_READY_LINE, 20_000);
    return Number(new URL(origin ?? '').port);
  } finally {
    await child.stop();
  }
}

export const s6: Scenario = {
  id: 's6',
  title: 'cold start',
  async run() {
    // The upstream is never called during start-up; it is there so the gateway starts exactly as in S1-S5.
    const emulator = await startEmulator({ latencyMs: 0 });
    try {
      // The probe also primes the OS file cache and tsx's transpile cache, as any earlier run would have.
      const port = await freePort(emulator.url);
      const samples: number[] = [];
      for (let i = 0; i < RUNS; i++) samples.push(await coldStart(emulator.url, port));
      const value = median(samples);
      return {
        metrics: [
          {
            name: `spawn → /healthz 200 (median of ${RUNS})`,
            value,
            unit: 'ms',
            target: `<= ${TARGET_MS} ms`,
            verdict: verdict(value <= TARGET_MS),
          },
        ],
        notes: [
          `samples (ms): ${samples.map((s) => s.toFixed(0)).join(', ')}; started as \`node --import tsx src/main.ts\` ` +
            '(what `npm start` runs, without the npm wrapper), tsx transpile cache warm, /healthz polled every 5 ms',
        ],
      };
    } finally {
      await emulator.stop();
    }
  },
};
