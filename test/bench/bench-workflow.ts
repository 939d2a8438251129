import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from '../../src/emulator/engine/model.js';

export interface BenchParams {
  /** How long the `hold` step runs, in real ms: the instance is `running` meanwhile, then completes. */
  readonly holdMs?: number;
  /** Ballast so `params` has the size of a realistic payload. */
  readonly order?: unknown;
}

/** Class name under which the bench emulator registers {@link BenchWorkflow}. */
export const BENCH_CLASS = 'BenchWorkflow';
const DEFAULT_HOLD_MS = 3_600_000;

/**
 * The workflow every scenario runs: two quick steps (so the step log is not empty), then a `hold` step
 * that keeps the instance `running` for `holdMs` of real time. A running instance is never served from
 * the gateway's finished-instance cache, so every read costs a real upstream call, and its status only
 * changes when a scenario changes it (pause) or when the hold ends (S5's completions).
 */
export class BenchWorkflow extends WorkflowEntrypoint<unknown, BenchParams> {
  async run(event: WorkflowEvent<BenchParams>, step: WorkflowStep) {
    const holdMs = typeof event.payload?.holdMs === 'number' ? event.payload.holdMs : DEFAULT_HOLD_MS;
    const loaded = await step.do('load', async () => ({ rows: 3, source: `bench/${event.instanceId}` }));
    await step.do('transform', async () => ({ rows: loaded.rows, checksum: event.instanceId.length }));
    await step.do('hold', { timeout: '2 hours', retries: { limit: 0 } }, async () => {
      // unref: a held instance must never keep the emulator process alive at shutdown.
      await new Promise<void>((resolve) => setTimeout(resolve, holdMs).unref());
      return { heldMs: holdMs };
    });
    return { rows: loaded.rows };
  }
}
