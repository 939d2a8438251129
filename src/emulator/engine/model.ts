/**
 * Cloudflare's Workflows programming model, as the engine offers it to workflow classes:
 * `class X extends WorkflowEntrypoint { async run(event, step) { ... } }`.
 */
import type { Backoff } from '../types.js';
import type { Duration } from '../duration.js';

export interface WorkflowEvent<T = unknown> {
  readonly payload: T;
  readonly timestamp: Date;
  readonly instanceId: string;
}

export interface WorkflowStepConfig {
  retries?: { limit?: number; delay?: Duration; backoff?: Backoff };
  timeout?: Duration;
  sensitive?: 'output';
}

export interface StepContext {
  readonly step: { readonly name: string; readonly count: number };
  readonly attempt: number;
  readonly config: Required<Pick<WorkflowStepConfig, 'retries' | 'timeout'>> & Pick<WorkflowStepConfig, 'sensitive'>;
}

export interface RollbackArgs<T> {
  readonly ctx: StepContext;
  /** The value the step returned. */
  readonly output: T;
  /** Why the instance is rolling back. */
  readonly error: Error;
  /** `<name>-<count>`. */
  readonly stepName: string;
}

export interface StepRollbackOptions<T> {
  rollback?: (args: RollbackArgs<T>) => Promise<unknown> | unknown;
  rollbackConfig?: Pick<WorkflowStepConfig, 'retries' | 'timeout'>;
}

export interface WorkflowStepEvent<T = unknown> {
  readonly payload: T;
  readonly timestamp: Date;
  readonly type: string;
}

export type StepCallback<T> = (ctx: StepContext) => Promise<T> | T;

export interface WorkflowStep {
  do<T>(name: string, callback: StepCallback<T>, options?: StepRollbackOptions<T>): Promise<T>;
  do<T>(
    name: string,
    config: WorkflowStepConfig,
    callback: StepCallback<T>,
    options?: StepRollbackOptions<T>,
  ): Promise<T>;
  sleep(name: string, duration: Duration): Promise<void>;
  sleepUntil(name: string, timestamp: Date | number): Promise<void>;
  waitForEvent<T = unknown>(name: string, options: { type: string; timeout?: Duration }): Promise<WorkflowStepEvent<T>>;
}

export interface WorkflowContext {
  readonly workflowName: string;
  readonly instanceId: string;
}

/** Base class of workflow definitions. `env` is whatever the emulator was configured with. */
export abstract class WorkflowEntrypoint<Env = unknown, Params = unknown> {
  constructor(
    protected readonly ctx: WorkflowContext,
    protected readonly env: Env,
  ) {}
  abstract run(event: WorkflowEvent<Params>, step: WorkflowStep): Promise<unknown>;
}

export type WorkflowClass = new (ctx: WorkflowContext, env: unknown) => WorkflowEntrypoint<unknown, unknown>;

/** Thrown by workflow code to fail a step without retrying it. */
export class NonRetryableError extends Error {
  override readonly name: string = 'NonRetryableError';
  constructor(message: string, name?: string) {
    super(message);
    if (name) this.name = name;
  }
}

/** Thrown when an attempt exceeds its `timeout`. */
export class WorkflowTimeoutError extends Error {
  override readonly name = 'WorkflowTimeoutError';
}

export const isNonRetryable = (error: unknown): boolean =>
  error instanceof NonRetryableError || (error instanceof Error && error.constructor.name === 'NonRetryableError');
