import type { Metric } from './report.js';

/** Run-wide settings, from the command line. */
export interface BenchSettings {
  /** Latency the emulator adds to every response, ms (S1 also measures 0). @default 20 */
  readonly latencyMs: number;
  /** The gateway's POLL_INTERVAL_MS for the subscription scenarios. @default 1000 */
  readonly pollIntervalMs: number;
  /** Length of each measured load run, s (a warm-up precedes it). @default 5 */
  readonly loadS: number;
}

export interface ScenarioOutcome {
  readonly metrics: readonly Metric[];
  readonly notes: readonly string[];
}

export interface Scenario {
  readonly id: string;
  readonly title: string;
  /** Starts what it needs, measures, and stops every process it started, also when it throws. */
  run(settings: BenchSettings): Promise<ScenarioOutcome>;
}
