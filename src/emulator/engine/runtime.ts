/** In-memory state of an instance that is (or may again be) executing: nothing here is part of the API. */
import type { InstanceRecord } from '../types.js';
import type { RollbackArgs, WorkflowStepConfig } from './model.js';

/** Thrown inside an execution that was stopped (pause, terminate, restart, delete); never reaches the log. */
export const ABORTED: unique symbol = Symbol('execution aborted');

/** One run() invocation. Aborting it rejects every parked wait, so the workflow code unwinds. */
export class Execution {
  aborted = false;
  slotHeld = false;
  readonly cancels = new Set<() => void>();
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const cancel of [...this.cancels]) cancel();
    this.cancels.clear();
  }
  check(): void {
    if (this.aborted) throw ABORTED;
  }
}

export interface RollbackEntry {
  readonly key: string;
  readonly baseName: string;
  readonly count: number;
  readonly handler: (args: RollbackArgs<unknown>) => unknown;
  readonly config: Pick<WorkflowStepConfig, 'retries' | 'timeout'> | undefined;
  readonly stepConfig: WorkflowStepConfig;
}

export interface EventWaiter {
  readonly deliver: (event: { payload: unknown; timestamp: number; type: string }) => void;
}

export class Runtime {
  exec: Execution | null = null;
  activeDo = 0;
  pauseRequested = false;
  /** Registered rollback handlers in step-start order; survives pauses because replays re-register. */
  readonly rollbacks = new Map<string, RollbackEntry>();
  readonly waiters = new Map<string, EventWaiter[]>();
  constructor(readonly instance: InstanceRecord) {}
}
