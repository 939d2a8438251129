/**
 * Domain shapes of the Cloudflare Workflows API as the rest of the gateway sees them: camelCase, dates
 * parsed, optional upstream fields normalised. Wire shapes (snake_case, as sent) live in `wire.ts`.
 */

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

export const TERMINAL_STATUSES: ReadonlySet<InstanceStatus> = new Set(['complete', 'errored', 'terminated']);
export const isTerminalStatus = (status: InstanceStatus): boolean => TERMINAL_STATUSES.has(status);

export const TRIGGER_SOURCES = ['unknown', 'api', 'binding', 'event', 'cron'] as const;
export type TriggerSource = (typeof TRIGGER_SOURCES)[number];

export type InstanceAction = 'pause' | 'resume' | 'terminate' | 'restart';
export type Backoff = 'constant' | 'linear' | 'exponential';
/** Milliseconds, or a duration string such as "10 seconds", as the workflow author wrote it. */
export type Duration = number | string;

export interface ErrorInfo {
  readonly name: string;
  readonly message: string;
}

/** Whose a credential is: the server's configured one, or one a client sent with its request. */
export type CredentialSource = 'server' | 'client';

/** Who a credential is: every cache and budget is partitioned by {@link Credential.key}. */
export interface Credential {
  readonly accountId: string;
  readonly apiToken: string;
  readonly source: CredentialSource;
  /** `accountId:` + a hash of the token; safe to log. */
  readonly key: string;
}

export interface Workflow {
  readonly id: string;
  readonly name: string;
  readonly className: string;
  readonly scriptName: string;
  readonly createdOn: Date;
  readonly modifiedOn: Date;
  readonly triggeredOn: Date | null;
  /** Count per status; statuses the upstream omitted are 0. */
  readonly instanceCounts: Readonly<Record<InstanceStatus, number>>;
  readonly schedules: readonly { readonly cron: string; readonly nextInstance: Date | null }[];
  readonly scriptDeleted: boolean;
}

export interface WorkflowVersion {
  readonly id: string;
  readonly workflowId: string;
  readonly className: string;
  readonly createdOn: Date;
  readonly modifiedOn: Date;
  readonly hasDag: boolean;
  readonly language: string;
  readonly concurrencyLimit: number | null;
  readonly stepLimit: number | null;
  readonly successRetentionMs: number | null;
  readonly errorRetentionMs: number | null;
}

export interface WorkflowVersionGraph {
  readonly id: string;
  readonly workflowId: string;
  readonly graph: unknown;
}

/** One row of the instance list. */
export interface InstanceSummary {
  readonly id: string;
  readonly workflowName: string;
  readonly status: InstanceStatus;
  readonly versionId: string;
  readonly workflowId: string;
  readonly createdOn: Date;
  readonly modifiedOn: Date;
  readonly startedOn: Date | null;
  readonly endedOn: Date | null;
  /** `unknown` when the row does not say (Cloudflare marks `trigger_source` optional). */
  readonly triggerSource: TriggerSource;
}

export interface StepAttempt {
  readonly start: Date;
  readonly end: Date | null;
  readonly success: boolean | null;
  readonly error: ErrorInfo | null;
}

export interface StepConfig {
  readonly retries: { readonly limit: number; readonly delay: Duration; readonly backoff: Backoff | null };
  readonly timeout: Duration;
  readonly sensitive: boolean;
}

export interface DoStepInfo {
  readonly type: 'do';
  /** Logged name, with the counter suffix: `charge-card-1`. */
  readonly name: string;
  readonly baseName: string;
  readonly count: number;
  readonly isRollback: boolean;
  readonly start: Date;
  readonly end: Date | null;
  readonly success: boolean | null;
  /** The logged preview: JSON text cut at 1024 characters + `[truncated output]`, or `[REDACTED]`. */
  readonly outputPreview: string | null;
  readonly config: StepConfig;
  readonly attempts: readonly StepAttempt[];
}

export interface SleepStepInfo {
  readonly type: 'sleep';
  readonly name: string;
  readonly baseName: string;
  readonly count: number;
  readonly start: Date;
  /** The planned wake-up time while it sleeps, when it woke once `finished`. */
  readonly end: Date;
  readonly finished: boolean;
  readonly error: ErrorInfo | null;
}

export interface WaitForEventStepInfo {
  readonly type: 'waitForEvent';
  readonly name: string;
  readonly baseName: string;
  readonly count: number;
  readonly start: Date;
  /** The timeout while it waits, when it ended once `finished`. */
  readonly end: Date | null;
  readonly finished: boolean;
  readonly error: ErrorInfo | null;
  readonly eventType: string | null;
  readonly outputPreview: string | null;
}

export interface TerminationStepInfo {
  readonly type: 'termination';
  readonly source: string;
}

export type StepInfo = DoStepInfo | SleepStepInfo | WaitForEventStepInfo | TerminationStepInfo;

/** The instance details endpoint's answer. `steps` is empty when fetched with `simple`. */
export interface InstanceDetails {
  readonly id: string;
  readonly workflowName: string;
  readonly status: InstanceStatus;
  readonly params: unknown;
  readonly trigger: TriggerSource;
  readonly versionId: string;
  readonly queuedOn: Date;
  readonly startedOn: Date | null;
  readonly endedOn: Date | null;
  readonly success: boolean | null;
  readonly output: unknown;
  readonly error: ErrorInfo | null;
  readonly rollback: { readonly outcome: 'complete' | 'failed'; readonly error: ErrorInfo | null } | null;
  readonly schedule: { readonly cron: string; readonly scheduledTime: Date } | null;
  readonly stepCount: number;
  /** True when fetched with `simple=true`: steps were not requested. */
  readonly simple: boolean;
  readonly steps: readonly StepInfo[];
}

/** The `step` endpoint's answer: one step's full output. */
export interface StepOutput {
  readonly status: InstanceStatus;
  readonly error: ErrorInfo | null;
  readonly output: unknown;
  readonly eventType: string | null;
  /**
   * Set when the step returned a ReadableStream: upstream then answers raw bytes without an envelope,
   * and `output` is their base64 text (status is `complete`, as only finished steps have bytes to serve).
   */
  readonly outputEncoding?: 'base64';
}

export interface PageInfo {
  readonly count: number;
  readonly perPage: number;
  readonly totalCount: number;
  readonly page: number | null;
  readonly totalPages: number | null;
  /** Cursor of the next page; null at the end. */
  readonly cursor: string | null;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly info: PageInfo;
}

export interface CreatedInstance {
  readonly id: string;
  readonly status: InstanceStatus;
  readonly versionId: string;
  readonly workflowId: string;
}

export interface CreateInstanceRequest {
  readonly instanceId?: string;
  readonly params?: unknown;
  readonly retention?: { readonly successRetention?: Duration; readonly errorRetention?: Duration };
  readonly locationHint?: string;
}

export type StatusChange =
  | { readonly action: 'pause' }
  | { readonly action: 'resume' }
  | { readonly action: 'terminate'; readonly rollback?: boolean }
  | {
      readonly action: 'restart';
      readonly from?: {
        readonly name: string;
        readonly count?: number;
        readonly type?: 'do' | 'sleep' | 'waitForEvent';
      };
    };

export interface StatusChangeResult {
  readonly status: InstanceStatus;
  readonly timestamp: Date;
}

/** Interactive work (queries, mutations) may use the whole budget; background work (polls) never the reserve. */
export type Priority = 'interactive' | 'background';

export interface CallOptions {
  readonly priority?: Priority;
  readonly signal?: AbortSignal;
}

export interface ListInstancesQuery {
  readonly page?: number;
  readonly perPage?: number;
  readonly cursor?: string;
  readonly direction?: 'asc' | 'desc';
  readonly status?: InstanceStatus;
  readonly dateStart?: Date;
  readonly dateEnd?: Date;
}

/**
 * The Workflows REST API for one credential. Every method throws an `UpstreamError` subclass
 * (`upstream/errors.ts`) on failure; lookups of unknown things throw `NotFoundError`.
 */
export interface WorkflowsApi {
  readonly credential: Credential;
  /** GET /workflows */
  listWorkflows(
    query?: { page?: number; perPage?: number; search?: string },
    options?: CallOptions,
  ): Promise<Page<Workflow>>;
  /** GET /workflows/{name} */
  getWorkflow(workflowName: string, options?: CallOptions): Promise<Workflow>;
  /** GET /workflows/{name}/versions */
  listVersions(
    workflowName: string,
    query?: { page?: number; perPage?: number },
    options?: CallOptions,
  ): Promise<Page<WorkflowVersion>>;
  /** GET /workflows/{name}/versions/{id} */
  getVersion(workflowName: string, versionId: string, options?: CallOptions): Promise<WorkflowVersion>;
  /** GET /workflows/{name}/versions/{id}/graph */
  getVersionGraph(workflowName: string, versionId: string, options?: CallOptions): Promise<WorkflowVersionGraph>;
  /** GET /workflows/{name}/instances */
  listInstances(
    workflowName: string,
    query?: ListInstancesQuery,
    options?: CallOptions,
  ): Promise<Page<InstanceSummary>>;
  /** POST /workflows/{name}/instances. Never replayed unless provably not executed. */
  createInstance(workflowName: string, request: CreateInstanceRequest, options?: CallOptions): Promise<CreatedInstance>;
  /** POST /workflows/{name}/instances/batch, at most 100 items. */
  createInstances(
    workflowName: string,
    requests: readonly CreateInstanceRequest[],
    options?: CallOptions,
  ): Promise<readonly CreatedInstance[]>;
  /** GET /workflows/{name}/instances/{id}; `simple` drops the step log. */
  getInstance(
    workflowName: string,
    instanceId: string,
    query?: { simple?: boolean; order?: 'asc' | 'desc' },
    options?: CallOptions,
  ): Promise<InstanceDetails>;
  /** GET /workflows/{name}/instances/{id}/step */
  getInstanceStep(
    workflowName: string,
    instanceId: string,
    query: { name: string; type: 'step' | 'waitForEvent'; attempt?: number },
    options?: CallOptions,
  ): Promise<StepOutput>;
  /** PATCH /workflows/{name}/instances/{id}/status */
  changeInstanceStatus(
    workflowName: string,
    instanceId: string,
    change: StatusChange,
    options?: CallOptions,
  ): Promise<StatusChangeResult>;
  /** POST /workflows/{name}/instances/{id}/events/{type} */
  sendInstanceEvent(
    workflowName: string,
    instanceId: string,
    eventType: string,
    payload: unknown,
    options?: CallOptions,
  ): Promise<{ readonly timestamp: Date }>;
  /** DELETE /workflows/{name}/instances/{id} */
  deleteInstance(workflowName: string, instanceId: string, options?: CallOptions): Promise<void>;
}
