/**
 * The emulator's stored records. Independent of `src/upstream/` on purpose: the emulator is a second, separate
 * implementation of the REST API (docs/upstream-contract.md), and the official SDK checks that both sides agree.
 * Times are epoch milliseconds of the emulated clock; views turn them into ISO strings.
 */
import type { Duration } from './duration.js';

export const INSTANCE_STATUSES = [
  'queued',
  'running',
  'paused',
  'errored',
  'terminated',
  'complete',
  'waitingForPause',
  'waiting',
  'rollingBack',
] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];
export const FINAL_STATUSES: ReadonlySet<InstanceStatus> = new Set(['complete', 'errored', 'terminated']);
export const isFinal = (status: InstanceStatus): boolean => FINAL_STATUSES.has(status);

export type TriggerSource = 'unknown' | 'api' | 'binding' | 'event' | 'cron';
export type Backoff = 'constant' | 'linear' | 'exponential';

export interface ErrorInfo {
  name: string;
  message: string;
}

export interface LoggedStepConfig {
  retries: { limit: number; delay: Duration; backoff: Backoff };
  timeout: Duration;
  sensitive?: 'output';
}

export interface AttemptRecord {
  start: number;
  end: number | null;
  success: boolean | null;
  error: ErrorInfo | null;
  /** Only set for successful attempts; the `step` endpoint serves it per attempt. */
  output?: unknown;
}

export interface DoStepRecord {
  type: 'step' | 'rollback';
  /** Cache key: kind + logged name. Identical across replays. */
  key: string;
  baseName: string;
  count: number;
  name: string;
  start: number;
  end: number | null;
  success: boolean | null;
  output: unknown;
  config: LoggedStepConfig;
  attempts: AttemptRecord[];
  /** When the next attempt may start, while waiting out a retry delay. */
  nextAttemptAt: number | null;
}

export interface SleepStepRecord {
  type: 'sleep';
  key: string;
  baseName: string;
  count: number;
  name: string;
  start: number;
  /** Wake-up time while sleeping; the actual end once finished. */
  end: number;
  finished: boolean;
  error: ErrorInfo | null;
}

export interface WaitStepRecord {
  type: 'waitForEvent';
  key: string;
  baseName: string;
  count: number;
  name: string;
  start: number;
  /** Timeout deadline while waiting; the actual end once finished. */
  end: number;
  finished: boolean;
  error: ErrorInfo | null;
  eventType: string;
  /** The received event, once finished successfully. */
  event: { payload: unknown; timestamp: number; type: string } | null;
}

export interface TerminationRecord {
  type: 'termination';
  key: string;
  source: TriggerSource;
}

export type StepRecord = DoStepRecord | SleepStepRecord | WaitStepRecord | TerminationRecord;

export interface RetentionMs {
  success?: number;
  error?: number;
}

export interface InstanceRecord {
  readonly id: string;
  /** Creation order within its workflow; ties on `queued` time break on it. */
  readonly seq: number;
  readonly accountId: string;
  readonly workflowName: string;
  readonly workflowId: string;
  versionId: string;
  status: InstanceStatus;
  params: unknown;
  trigger: TriggerSource;
  queued: number;
  start: number | null;
  end: number | null;
  modified: number;
  success: boolean | null;
  output: unknown;
  error: ErrorInfo | null;
  rollback: { outcome: 'complete' | 'failed'; error: ErrorInfo | null } | null;
  schedule: { cron: string; scheduledTime: number } | null;
  retention: RetentionMs;
  steps: StepRecord[];
  stepIndex: Map<string, StepRecord>;
  /** Events that arrived before their waitForEvent, per type, oldest first. */
  events: Map<string, { payload: unknown; timestamp: number; type: string }[]>;
  pausedAt: number | null;
  /** Timestamp of the `event` handed to run(). */
  eventTimestamp: number;
}

export interface VersionRecord {
  readonly id: string;
  readonly workflowId: string;
  readonly className: string;
  readonly createdOn: number;
  modifiedOn: number;
  readonly concurrency?: { limit?: number };
  readonly defaultRetention?: RetentionMs;
  readonly limits?: { steps?: number };
}

export interface WorkflowRecord {
  readonly id: string;
  readonly accountId: string;
  readonly name: string;
  className: string;
  scriptName: string;
  readonly createdOn: number;
  modifiedOn: number;
  triggeredOn: number | null;
  schedules: { cron: string }[];
  /** Oldest first; the last one is current. */
  versions: VersionRecord[];
  instances: Map<string, InstanceRecord>;
  nextSeq: number;
}

export interface AccountRecord {
  readonly id: string;
  workflows: Map<string, WorkflowRecord>;
  settings: { defaultRetention?: RetentionMs };
}
