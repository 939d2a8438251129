/**
 * `npm run bench [-- s1 s3] [--latency-ms 20] [--poll-interval-ms 1000] [--load-s 5] [--out bench-results.json]`
 *
 * Runs the selected scenarios (all when none is named) one after the other, each with its own emulator,
 * gateway and load-generator processes, prints a markdown table and writes the results as JSON.
 * Exit code: 0 when every scenario could be measured (MISSes included: they are results), 1 otherwise.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { installCleanup, ROOT, stopAll } from './children.js';
import { describeMachine, renderNotes, renderTable, tally, writeReport, type ScenarioResult } from './report.js';
import type { BenchSettings, Scenario } from './scenario.js';
import { s1auth } from './s1-auth.js';
import { s1ops } from './s1-ops.js';
import { s1 } from './s1-instance-by-id.js';
import { s2, s3 } from './s2-dashboard.js';
import { s2io } from './s2-io.js';
import { s4 } from './s4-fan-out.js';
import { s5 } from './s5-budget.js';
import { s6 } from './s6-cold-start.js';
import { s7 } from './s7-scale-out.js';
import { s8 } from './s8-federation.js';

const SCENARIOS: readonly Scenario[] = [s1, s1auth, s1ops, s2, s2io, s3, s4, s5, s6, s7, s8];

const USAGE = `usage: npm run bench -- [${SCENARIOS.map((s) => s.id).join('] [')}] [--latency-ms N] [--poll-interval-ms N] [--load-s N] [--out FILE]`;

function positiveInt(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min) {
    throw new Error(`--${name} must be an integer >= ${min} (got "${raw}")\n${USAGE}`);
  }
  return value;
}

function parse(argv: readonly string[]): { scenarios: Scenario[]; settings: BenchSettings; out: string } {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      'latency-ms': { type: 'string' },
      'poll-interval-ms': { type: 'string' },
      'load-s': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const wanted = positionals.map((p) => p.toLowerCase());
  const unknown = wanted.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}\n${USAGE}`);
  return {
    scenarios: wanted.length === 0 ? [...SCENARIOS] : SCENARIOS.filter((s) => wanted.includes(s.id)),
    settings: {
      latencyMs: positiveInt('latency-ms', values['latency-ms'] ?? process.env.BENCH_LATENCY_MS, 20, 0),
      pollIntervalMs: positiveInt('poll-interval-ms', values['poll-interval-ms'], 1000, 50),
      loadS: positiveInt('load-s', values['load-s'], 5, 1),
    },
    out: resolve(ROOT, values.out ?? 'bench-results.json'),
  };
}

async function runScenario(scenario: Scenario, settings: BenchSettings): Promise<ScenarioResult> {
  process.stderr.write(`\n== ${scenario.id.toUpperCase()} ${scenario.title} ...\n`);
  const started = performance.now();
  const base = { id: scenario.id, title: scenario.title };
  try {
    const outcome = await scenario.run(settings);
    const durationS = (performance.now() - started) / 1000;
    process.stderr.write(`   done in ${durationS.toFixed(1)} s\n`);
    return { ...base, ...outcome, durationS };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`   could not run: ${message}\n`);
    return { ...base, metrics: [], notes: [], error: message, durationS: (performance.now() - started) / 1000 };
  } finally {
    // Scenarios stop their own processes; this is the safety net for one that did not.
    await stopAll();
  }
}

async function main(): Promise<number> {
  installCleanup();
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(process.argv.slice(2));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${message}${message.includes('usage:') ? '' : `\n${USAGE}`}\n`);
    return 1;
  }
  const { scenarios, settings, out } = parsed;
  const machine = describeMachine();
  const date = new Date().toISOString();
  process.stderr.write(
    `Benchmarking ${scenarios.map((s) => s.id).join(', ')} on ${machine.cpuCount} × ${machine.cpuModel}, ` +
      `${machine.memoryGiB} GiB, Node ${machine.node}; upstream latency ${settings.latencyMs} ms\n`,
  );
  // The gateway runs as production runs it: the `npm run build` bundle, not TypeScript transpiled at start.
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) results.push(await runScenario(scenario, settings));

  const counts = tally(results);
  const header =
    `Run ${date} on ${machine.cpuCount} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}; ` +
    `upstream latency ${settings.latencyMs} ms, poll interval ${settings.pollIntervalMs} ms.`;
  process.stdout.write(`\n${header}\n\n${renderTable(results)}\n\n`);
  const notes = renderNotes(results);
  if (notes !== '') process.stdout.write(`Notes:\n${notes}\n\n`);
  process.stdout.write(`${counts.PASS} PASS, ${counts.MISS} MISS, ${counts.INFO} INFO. Results written to ${out}\n`);
  await writeReport(out, { date, machine, settings, scenarios: results });
  return results.some((r) => r.error !== undefined) ? 1 : 0;
}

main().then(
  async (code) => {
    await stopAll();
    process.exit(code);
  },
  async (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    await stopAll();
    process.exit(1);
  },
);
