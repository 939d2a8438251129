import { assertClean, runSustained } from './load.js';
import type { SustainedLoad, SustainedResult } from './load-spec.js';
import { readCpuSeconds } from './proc.js';
import { median } from './stats.js';

/** How every scenario measures a process's CPU, for its notes. */
export const CPU_NOTE =
  "CPU: the process's user + system time (/proc/<pid>/stat, every thread, 10 ms ticks) over the measured part " +
  'only (after the warm-up, during which the load worker pauses), divided by its good responses (requests in ' +
  'flight at either edge count alike on every side)';

export interface CpuRun {
  readonly result: SustainedResult;
  /** CPU time (user + system) of the measured process from the end of the warm-up to the end of the run, s. */
  readonly cpuS: number;
}

/** CPU time per good response of a run, µs. */
const cpuUsPerResponse = (run: CpuRun): number => (run.cpuS / run.result.ok) * 1e6;

/**
 * CPU time per good response over several runs of one side, µs: the median of the runs', since a run disturbed by
 * other work on a shared machine (seen at 1.5 times its neighbours) moves a median less than a total; and the runs'
 * own figures, to show the spread.
 */
export function cpuPerResponse(runs: readonly CpuRun[]): { cpuUs: number; cpuUsPerRun: number[] } {
  const cpuUsPerRun = runs.map(cpuUsPerResponse);
  return { cpuUs: median(cpuUsPerRun), cpuUsPerRun };
}

/**
 * A sustained load, and the CPU time process `pid` spent on its measured part: read after the warm-up (the load
 * worker waits for it) and after the run. Throws when a response failed.
 */
export async function runSustainedWithCpu(
  what: string,
  pid: number,
  spec: Omit<SustainedLoad, 'kind' | 'pauseAfterWarmup'>,
): Promise<CpuRun> {
  let before: number | undefined;
  const result = await runSustained(spec, {
    afterWarmup: async () => {
      before = await readCpuSeconds(pid);
    },
  });
  const after = await readCpuSeconds(pid);
  assertClean(what, result);
  if (before === undefined) throw new Error('the load worker never reported the end of its warm-up');
  return { result, cpuS: after - before };
}

/** Runs `work` and returns its value with the CPU time process `pid` spent meanwhile, s, and the wall time, ms. */
export async function cpuDuring<T>(
  pid: number,
  work: () => Promise<T>,
): Promise<{ value: T; cpuS: number; elapsedMs: number }> {
  const before = await readCpuSeconds(pid);
  const startedAt = performance.now();
  const value = await work();
  const elapsedMs = performance.now() - startedAt;
  return { value, cpuS: (await readCpuSeconds(pid)) - before, elapsedMs };
}
