import type { Clock } from '../clock.js';
import type { InstanceRecord, StepRecord } from '../types.js';
import type { StepDefaults } from './retry.js';
import type { Execution, Runtime } from './runtime.js';

/** What a StepRunner needs from the engine. Every wait goes through here so the engine can count it. */
export interface EngineHost {
  readonly clock: Clock;
  readonly stepDefaults: StepDefaults;
  stepLimit(instance: InstanceRecord): number;
  /** Bytes of streamed step output the instance may still store, and its total limit. */
  streamBudget(instance: InstanceRecord): { remainingBytes: number; limitBytes: number };
  addStep(instance: InstanceRecord, record: StepRecord): void;
  touch(instance: InstanceRecord): void;
  /** Shows `waiting`, gives up the concurrency slot and parks until `until`. */
  hibernate(rt: Runtime, exec: Execution, until: number): Promise<void>;
  /** Resolves with the event, or null at `deadline`. Shows `waiting` meanwhile. */
  awaitEvent(
    rt: Runtime,
    exec: Execution,
    type: string,
    deadline: number,
  ): Promise<{ payload: unknown; timestamp: number; type: string } | null>;
  takeBufferedEvent(
    instance: InstanceRecord,
    type: string,
  ): { payload: unknown; timestamp: number; type: string } | undefined;
  /** Waits for a concurrency slot (showing `queued`) and marks the instance `running`. */
  acquireSlot(rt: Runtime, exec: Execution): Promise<void>;
  withTimeout<T>(exec: Execution, work: Promise<T>, timeoutMs: number): Promise<T>;
  /** Called after each attempt: completes a requested pause once no step is executing. */
  afterStep(rt: Runtime, exec: Execution): void;
}
