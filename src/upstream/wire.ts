/**
 * The REST API's wire shapes (snake_case, exactly as sent, except that date-times are read into Dates while they
 * are validated, so that no date is parsed twice) and the functions that validate untrusted JSON against them and
 * map it to the domain shapes of `types.ts`. Nothing outside `upstream/` sees a `Wire*` type.
 *
 * Validation follows docs/upstream-contract.md §3: fields every answer carries are checked strictly (a wrong
 * shape is an error naming the field), fields that are optional or uncertain there are read leniently (missing instance
 * counts are zeros, missing `steps` is `[]`, an unknown trigger source is `unknown`).
 */
import {
  INSTANCE_STATUSES,
  TRIGGER_SOURCES,
  type Backoff,
  type CreatedInstance,
  type CreateInstanceRequest,
  type Duration,
  type ErrorInfo,
  type InstanceDetails,
  type InstanceStatus,
  type InstanceSummary,
  type PageInfo,
  type StatusChangeResult,
  type StepAttempt,
  type StepConfig,
  type StepInfo,
  type StepOutput,
  type TriggerSource,
  type Workflow,
  type WorkflowVersion,
  type WorkflowVersionGraph,
} from './types.js';
import type { CloudflareErrorEntry } from './errors.js';
import {
  arrayOf,
  boolean,
  dateTime,
  integer,
  isObject,
  nonEmptyString,
  nullable,
  number,
  object,
  oneOf,
  optional,
  ShapeError,
  string,
} from './validate.js';

export { arrayOf, ShapeError } from './validate.js';

const BACKOFFS: readonly Backoff[] = ['constant', 'linear', 'exponential'];

export interface WireEnvelope {
  readonly success: boolean;
  readonly errors: readonly CloudflareErrorEntry[];
  readonly result: unknown;
  readonly result_info?: unknown;
}

export interface WireResultInfo {
  readonly count: number;
  readonly per_page: number;
  readonly total_count: number;
  readonly page?: number | null;
  readonly total_pages?: number | null;
  readonly cursor?: string | null;
}

export interface WireError {
  readonly name: string;
  readonly message: string;
}

export interface WireWorkflow {
  readonly id: string;
  readonly name: string;
  readonly class_name: string;
  readonly script_name: string;
  readonly created_on: Date;
  readonly modified_on: Date;
  readonly triggered_on: Date | null;
  readonly instances: Readonly<Record<string, number>>;
  readonly schedules: readonly { readonly cron: string; readonly next_instance: Date | null }[];
  readonly script_deleted: boolean;
}

export interface WireVersion {
  readonly id: string;
  readonly workflow_id: string;
  readonly class_name: string;
  readonly created_on: Date;
  readonly modified_on: Date;
  readonly has_dag: boolean;
  readonly language: string;
  readonly concurrency?: { readonly limit?: number } | null;
  readonly default_retention?: { readonly success_retention?: number; readonly error_retention?: number } | null;
  readonly limits?: { readonly steps?: number } | null;
}

export interface WireVersionGraph {
  readonly id: string;
  readonly workflow_id: string;
  readonly graph: unknown;
}

export interface WireInstanceSummary {
  readonly id: string;
  readonly status: InstanceStatus;
  readonly version_id: string;
  readonly workflow_id: string;
  readonly created_on: Date;
  readonly modified_on: Date;
  readonly started_on: Date | null;
  readonly ended_on: Date | null;
  readonly trigger_source?: string;
}

export interface WireCreatedInstance {
  readonly id: string;
  readonly status: InstanceStatus;
  readonly version_id: string;
  readonly workflow_id: string;
}

export interface WireStepAttempt {
  readonly start: Date;
  readonly end: Date | null;
  readonly success: boolean | null;
  readonly error: WireError | null;
}

export interface WireStepConfig {
  readonly retries: { readonly limit: number; readonly delay: Duration; readonly backoff?: Backoff };
  readonly timeout: Duration;
  readonly sensitive?: string;
}

export interface WireDoStep {
  readonly type: 'step' | 'rollback';
  readonly name: string;
  readonly start: Date;
  readonly end: Date | null;
  readonly success: boolean | null;
  /** A preview: a string, or native JSON (whether production stringifies short outputs is UNCERTAIN). */
  readonly output: unknown;
  readonly config: WireStepConfig;
  readonly attempts: readonly WireStepAttempt[];
}

export interface WireSleepStep {
  readonly type: 'sleep';
  readonly name: string;
  readonly start: Date;
  /** Always sent: the planned wake-up time until the sleep is `finished` (docs/upstream-contract.md §3.4). */
  readonly end: Date;
  readonly finished: boolean;
  readonly error: WireError | null;
}

export interface WireWaitForEventStep {
  readonly type: 'waitForEvent';
  readonly name: string;
  readonly start: Date;
  readonly end: Date | null;
  readonly finished: boolean;
  readonly error: WireError | null;
  readonly event_type?: string;
  readonly output?: unknown;
}

export interface WireTerminationStep {
  readonly type: 'termination';
  readonly trigger: { readonly source: string };
}

export type WireStep = WireDoStep | WireSleepStep | WireWaitForEventStep | WireTerminationStep;

export interface WireInstanceDetails {
  readonly status: InstanceStatus;
  readonly params: unknown;
  readonly trigger?: { readonly source: string };
  /** camelCase on this endpoint only; lists use `version_id`. */
  readonly versionId: string;
  readonly queued: Date;
  readonly start: Date | null;
  readonly end: Date | null;
  readonly success: boolean | null;
  readonly output: unknown;
  readonly error: WireError | null;
  readonly rollback: { readonly outcome: 'complete' | 'failed'; readonly error: WireError | null } | null;
  readonly schedule?: { readonly cron: string; readonly scheduledTime: number };
  readonly step_count?: number;
  readonly steps?: readonly WireStep[];
}

export interface WireStepOutput {
  readonly status: InstanceStatus;
  readonly error: WireError | null;
  readonly output?: unknown;
  readonly event_type?: string;
}

export interface WireStatusChangeResult {
  readonly status: InstanceStatus;
  readonly timestamp: Date;
}

/**
 * Reads the v4 envelope. Only `success` is required: `errors` entries that do not match
 * `{ code, message }` are kept as well as they can be, since they only ever feed an error message.
 */
export function parseEnvelope(value: unknown): WireEnvelope {
  const body = object(value, 'body');
  const success = boolean(body.success, 'body.success');
  const errors = Array.isArray(body.errors) ? body.errors.map(toErrorEntry) : [];
  return { success, errors, result: body.result, result_info: body.result_info };
}

const MAX_ERROR_ENTRIES = 10;
const MAX_ERROR_MESSAGE = 500;

function toErrorEntry(entry: unknown): CloudflareErrorEntry {
  if (typeof entry === 'string') return { code: 0, message: entry.slice(0, MAX_ERROR_MESSAGE) };
  if (!isObject(entry)) return { code: 0, message: '' };
  const code = typeof entry.code === 'number' ? entry.code : Number(entry.code);
  const message = typeof entry.message === 'string' ? entry.message.slice(0, MAX_ERROR_MESSAGE) : '';
  return { code: Number.isFinite(code) ? code : 0, message };
}

/** Reads `errors` off any JSON body (failure envelopes need not carry `success`), capped in count. */
export function errorEntries(value: unknown): CloudflareErrorEntry[] {
  if (!isObject(value) || !Array.isArray(value.errors)) return [];
  return value.errors.slice(0, MAX_ERROR_ENTRIES).map(toErrorEntry);
}

function parseError(value: unknown, path: string): WireError {
  const error = object(value, path);
  // Engines have sent errors without a name; the message is what matters.
  const name = error.name === undefined || error.name === null ? 'Error' : string(error.name, `${path}.name`);
  return { name, message: string(error.message, `${path}.message`) };
}

export function parseResultInfo(value: unknown, itemCount: number): WireResultInfo {
  const info = object(value, 'body.result_info');
  return {
    count: info.count === undefined ? itemCount : integer(info.count, 'body.result_info.count'),
    per_page: integer(info.per_page, 'body.result_info.per_page'),
    total_count: integer(info.total_count, 'body.result_info.total_count'),
    page: nullable(info.page, 'body.result_info.page', integer),
    total_pages: nullable(info.total_pages, 'body.result_info.total_pages', integer),
    cursor: nullable(info.cursor, 'body.result_info.cursor', string),
  };
}

export function parseWorkflow(value: unknown, path: string): WireWorkflow {
  const w = object(value, path);
  const instances: Record<string, number> = {};
  const counts = nullable(w.instances, `${path}.instances`, object);
  if (counts)
    for (const [key, count] of Object.entries(counts)) instances[key] = integer(count, `${path}.instances.${key}`);
  return {
    id: nonEmptyString(w.id, `${path}.id`),
    name: nonEmptyString(w.name, `${path}.name`),
    class_name: string(w.class_name, `${path}.class_name`),
    script_name: string(w.script_name, `${path}.script_name`),
    created_on: dateTime(w.created_on, `${path}.created_on`),
    modified_on: dateTime(w.modified_on, `${path}.modified_on`),
    triggered_on: nullable(w.triggered_on, `${path}.triggered_on`, dateTime),
    instances,
    schedules:
      nullable(w.schedules, `${path}.schedules`, (v, p) =>
        arrayOf(v, p, (s, sp) => {
          const schedule = object(s, sp);
          return {
            cron: string(schedule.cron, `${sp}.cron`),
            next_instance: nullable(schedule.next_instance, `${sp}.next_instance`, dateTime),
          };
        }),
      ) ?? [],
    script_deleted: nullable(w.script_deleted, `${path}.script_deleted`, boolean) ?? false,
  };
}

export function parseVersion(value: unknown, path: string): WireVersion {
  const v = object(value, path);
  const concurrency = nullable(v.concurrency, `${path}.concurrency`, object);
  const retention = nullable(v.default_retention, `${path}.default_retention`, object);
  const limits = nullable(v.limits, `${path}.limits`, object);
  return {
    id: nonEmptyString(v.id, `${path}.id`),
    workflow_id: string(v.workflow_id, `${path}.workflow_id`),
    class_name: string(v.class_name, `${path}.class_name`),
    created_on: dateTime(v.created_on, `${path}.created_on`),
    modified_on: dateTime(v.modified_on, `${path}.modified_on`),
    has_dag: boolean(v.has_dag, `${path}.has_dag`),
    language: string(v.language, `${path}.language`),
    concurrency: concurrency && { limit: optional(concurrency.limit, `${path}.concurrency.limit`, integer) },
    default_retention: retention && {
      success_retention: optional(retention.success_retention, `${path}.default_retention.success_retention`, number),
      error_retention: optional(retention.error_retention, `${path}.default_retention.error_retention`, number),
    },
    limits: limits && { steps: optional(limits.steps, `${path}.limits.steps`, integer) },
  };
}

export function parseVersionGraph(value: unknown, path: string): WireVersionGraph {
  const g = object(value, path);
  return {
    id: nonEmptyString(g.id, `${path}.id`),
    workflow_id: string(g.workflow_id, `${path}.workflow_id`),
    graph: g.graph ?? null,
  };
}

const status = (value: unknown, path: string): InstanceStatus => oneOf(value, INSTANCE_STATUSES, path);

export function parseInstanceSummary(value: unknown, path: string): WireInstanceSummary {
  const i = object(value, path);
  return {
    id: nonEmptyString(i.id, `${path}.id`),
    status: status(i.status, `${path}.status`),
    version_id: string(i.version_id, `${path}.version_id`),
    workflow_id: string(i.workflow_id, `${path}.workflow_id`),
    created_on: dateTime(i.created_on, `${path}.created_on`),
    modified_on: dateTime(i.modified_on, `${path}.modified_on`),
    started_on: nullable(i.started_on, `${path}.started_on`, dateTime),
    ended_on: nullable(i.ended_on, `${path}.ended_on`, dateTime),
    trigger_source: nullable(i.trigger_source, `${path}.trigger_source`, string) ?? undefined,
  };
}

export function parseCreatedInstance(value: unknown, path: string): WireCreatedInstance {
  const i = object(value, path);
  return {
    id: nonEmptyString(i.id, `${path}.id`),
    status: status(i.status, `${path}.status`),
    version_id: string(i.version_id, `${path}.version_id`),
    workflow_id: string(i.workflow_id, `${path}.workflow_id`),
  };
}

const duration = (value: unknown, path: string): Duration => {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') return value;
  throw new ShapeError(path, 'milliseconds or a duration string', value);
};

function parseStepConfig(value: unknown, path: string): WireStepConfig {
  const c = object(value, path);
  const retries = object(c.retries, `${path}.retries`);
  return {
    retries: {
      limit: number(retries.limit, `${path}.retries.limit`),
      delay: duration(retries.delay, `${path}.retries.delay`),
      backoff: nullable(retries.backoff, `${path}.retries.backoff`, (v, p) => oneOf(v, BACKOFFS, p)) ?? undefined,
    },
    timeout: duration(c.timeout, `${path}.timeout`),
    sensitive: nullable(c.sensitive, `${path}.sensitive`, string) ?? undefined,
  };
}

function parseAttempt(value: unknown, path: string): WireStepAttempt {
  const a = object(value, path);
  return {
    start: dateTime(a.start, `${path}.start`),
    end: nullable(a.end, `${path}.end`, dateTime),
    success: nullable(a.success, `${path}.success`, boolean),
    error: nullable(a.error, `${path}.error`, parseError),
  };
}

export function parseStep(value: unknown, path: string): WireStep {
  const s = object(value, path);
  const type = oneOf(s.type, ['step', 'rollback', 'sleep', 'waitForEvent', 'termination'] as const, `${path}.type`);
  if (type === 'termination') {
    const trigger = nullable(s.trigger, `${path}.trigger`, object);
    return { type, trigger: { source: nullable(trigger?.source, `${path}.trigger.source`, string) ?? 'unknown' } };
  }
  const name = nonEmptyString(s.name, `${path}.name`);
  const start = dateTime(s.start, `${path}.start`);
  const end = nullable(s.end, `${path}.end`, dateTime);
  if (type === 'step' || type === 'rollback') {
    return {
      type,
      name,
      start,
      end,
      success: nullable(s.success, `${path}.success`, boolean),
      output: s.output ?? null,
      config: parseStepConfig(s.config, `${path}.config`),
      attempts: nullable(s.attempts, `${path}.attempts`, (v, p) => arrayOf(v, p, parseAttempt)) ?? [],
    };
  }
  const finished = boolean(s.finished, `${path}.finished`);
  const error = nullable(s.error, `${path}.error`, parseError);
  // A sleep's end is always set (docs/upstream-contract.md §3.4): the null `end` above is refused here.
  if (type === 'sleep') return { type, name, start, end: end ?? dateTime(s.end, `${path}.end`), finished, error };
  return {
    type,
    name,
    start,
    end,
    finished,
    error,
    event_type: nullable(s.event_type, `${path}.event_type`, string) ?? undefined,
    output: s.output ?? null,
  };
}

export function parseInstanceDetails(value: unknown, path: string): WireInstanceDetails {
  const d = object(value, path);
  const trigger = nullable(d.trigger, `${path}.trigger`, object);
  const rollback = nullable(d.rollback, `${path}.rollback`, object);
  const schedule = nullable(d.schedule, `${path}.schedule`, object);
  return {
    status: status(d.status, `${path}.status`),
    params: d.params ?? null,
    trigger: trigger ? { source: nullable(trigger.source, `${path}.trigger.source`, string) ?? 'unknown' } : undefined,
    versionId: string(d.versionId, `${path}.versionId`),
    queued: dateTime(d.queued, `${path}.queued`),
    start: nullable(d.start, `${path}.start`, dateTime),
    end: nullable(d.end, `${path}.end`, dateTime),
    success: nullable(d.success, `${path}.success`, boolean),
    output: d.output ?? null,
    error: nullable(d.error, `${path}.error`, parseError),
    rollback: rollback && {
      outcome: oneOf(rollback.outcome, ['complete', 'failed'] as const, `${path}.rollback.outcome`),
      error: nullable(rollback.error, `${path}.rollback.error`, parseError),
    },
    schedule: schedule
      ? {
          cron: string(schedule.cron, `${path}.schedule.cron`),
          scheduledTime: number(schedule.scheduledTime, `${path}.schedule.scheduledTime`),
        }
      : undefined,
    step_count: nullable(d.step_count, `${path}.step_count`, integer) ?? undefined,
    steps: nullable(d.steps, `${path}.steps`, (v, p) => arrayOf(v, p, parseStep)) ?? undefined,
  };
}

export function parseStepOutput(value: unknown, path: string): WireStepOutput {
  const s = object(value, path);
  return {
    status: status(s.status, `${path}.status`),
    error: nullable(s.error, `${path}.error`, parseError),
    output: s.output,
    event_type: nullable(s.event_type, `${path}.event_type`, string) ?? undefined,
  };
}

export function parseStatusChangeResult(value: unknown, path: string): WireStatusChangeResult {
  const r = object(value, path);
  return { status: status(r.status, `${path}.status`), timestamp: dateTime(r.timestamp, `${path}.timestamp`) };
}

/** The event endpoint's `timestamp`; older revisions answered a free-form object, so it may be absent. */
export function parseEventTimestamp(value: unknown, path: string): Date | null {
  if (!isObject(value)) return null;
  return nullable(value.timestamp, `${path}.timestamp`, dateTime);
}

const errorInfo = (value: WireError | null): ErrorInfo | null =>
  value === null ? null : { name: value.name, message: value.message };

export function toPageInfo(info: WireResultInfo): PageInfo {
  return {
    count: info.count,
    perPage: info.per_page,
    totalCount: info.total_count,
    page: info.page ?? null,
    totalPages: info.total_pages ?? null,
    cursor: info.cursor === undefined || info.cursor === null || info.cursor === '' ? null : info.cursor,
  };
}

export function toWorkflow(w: WireWorkflow): Workflow {
  const instanceCounts = Object.fromEntries(INSTANCE_STATUSES.map((s) => [s, w.instances[s] ?? 0])) as Record<
    InstanceStatus,
    number
  >;
  return {
    id: w.id,
    name: w.name,
    className: w.class_name,
    scriptName: w.script_name,
    createdOn: w.created_on,
    modifiedOn: w.modified_on,
    triggeredOn: w.triggered_on,
    instanceCounts,
    schedules: w.schedules.map((s) => ({ cron: s.cron, nextInstance: s.next_instance })),
    scriptDeleted: w.script_deleted,
  };
}

export function toVersion(v: WireVersion): WorkflowVersion {
  return {
    id: v.id,
    workflowId: v.workflow_id,
    className: v.class_name,
    createdOn: v.created_on,
    modifiedOn: v.modified_on,
    hasDag: v.has_dag,
    language: v.language,
    concurrencyLimit: v.concurrency?.limit ?? null,
    stepLimit: v.limits?.steps ?? null,
    successRetentionMs: v.default_retention?.success_retention ?? null,
    errorRetentionMs: v.default_retention?.error_retention ?? null,
  };
}

export function toVersionGraph(g: WireVersionGraph): WorkflowVersionGraph {
  return { id: g.id, workflowId: g.workflow_id, graph: g.graph };
}

export function toTriggerSource(value: string | undefined | null): TriggerSource {
  return (TRIGGER_SOURCES as readonly string[]).includes(value ?? '') ? (value as TriggerSource) : 'unknown';
}

export function toInstanceSummary(i: WireInstanceSummary, workflowName: string): InstanceSummary {
  return {
    id: i.id,
    workflowName,
    status: i.status,
    versionId: i.version_id,
    workflowId: i.workflow_id,
    createdOn: i.created_on,
    modifiedOn: i.modified_on,
    startedOn: i.started_on,
    endedOn: i.ended_on,
    triggerSource: toTriggerSource(i.trigger_source),
  };
}

export function toCreatedInstance(i: WireCreatedInstance): CreatedInstance {
  return { id: i.id, status: i.status, versionId: i.version_id, workflowId: i.workflow_id };
}

/**
 * Splits a logged step name into the bare name and its counter: `charge-card-1` → `charge-card`, 1.
 * Only the last `-<digits>` is the counter, so `retry-2-3` is `retry-2`, 3. A name without a counter
 * (not seen from Cloudflare's engines; docs/upstream-contract.md §6) reads as the first occurrence.
 */
export function splitStepName(name: string): { baseName: string; count: number } {
  const match = /^(.+)-(\d+)$/.exec(name);
  const count = match?.[2] === undefined ? Number.NaN : Number(match[2]);
  if (!match?.[1] || !Number.isSafeInteger(count)) return { baseName: name, count: 1 };
  return { baseName: match[1], count };
}

/** Previews stay text: strings as sent, native JSON (short outputs, UNCERTAIN) as its JSON text. */
export function toOutputPreview(output: unknown): string | null {
  if (output === null || output === undefined) return null;
  return typeof output === 'string' ? output : JSON.stringify(output);
}

function toStepConfig(c: WireStepConfig): StepConfig {
  return {
    retries: { limit: c.retries.limit, delay: c.retries.delay, backoff: c.retries.backoff ?? null },
    timeout: c.timeout,
    sensitive: c.sensitive === 'output',
  };
}

function toAttempt(a: WireStepAttempt): StepAttempt {
  return { start: a.start, end: a.end, success: a.success, error: errorInfo(a.error) };
}

export function toStep(s: WireStep): StepInfo {
  if (s.type === 'termination') return { type: 'termination', source: s.trigger.source };
  const { baseName, count } = splitStepName(s.name);
  const common = { name: s.name, baseName, count, start: s.start, end: s.end };
  switch (s.type) {
    case 'step':
    case 'rollback':
      return {
        type: 'do',
        ...common,
        isRollback: s.type === 'rollback',
        success: s.success,
        outputPreview: toOutputPreview(s.output),
        config: toStepConfig(s.config),
        attempts: s.attempts.map(toAttempt),
      };
    case 'sleep':
      return { type: 'sleep', ...common, end: s.end, finished: s.finished, error: errorInfo(s.error) };
    case 'waitForEvent':
      return {
        type: 'waitForEvent',
        ...common,
        finished: s.finished,
        error: errorInfo(s.error),
        eventType: s.event_type ?? null,
        outputPreview: toOutputPreview(s.output),
      };
  }
}

/** Details do not repeat the id and workflow name, so they come from the call's arguments. */
export function toInstanceDetails(
  d: WireInstanceDetails,
  ids: { readonly workflowName: string; readonly instanceId: string; readonly simple: boolean },
): InstanceDetails {
  const steps = (d.steps ?? []).map(toStep);
  return {
    id: ids.instanceId,
    workflowName: ids.workflowName,
    status: d.status,
    params: d.params,
    trigger: toTriggerSource(d.trigger?.source),
    versionId: d.versionId,
    queuedOn: d.queued,
    startedOn: d.start,
    endedOn: d.end,
    success: d.success,
    output: d.output,
    error: errorInfo(d.error),
    rollback: d.rollback && { outcome: d.rollback.outcome, error: errorInfo(d.rollback.error) },
    schedule: d.schedule ? { cron: d.schedule.cron, scheduledTime: new Date(d.schedule.scheduledTime) } : null,
    stepCount: d.step_count ?? steps.filter((s) => s.type !== 'termination').length,
    simple: ids.simple,
    steps,
  };
}

export function toStepOutput(s: WireStepOutput): StepOutput {
  return { status: s.status, error: errorInfo(s.error), output: s.output ?? null, eventType: s.event_type ?? null };
}

export function toStatusChangeResult(r: WireStatusChangeResult): StatusChangeResult {
  return { status: r.status, timestamp: r.timestamp };
}

/** The body of a create request, in wire form (`params` is sent as a JSON value, as wrangler does). */
export interface WireCreateInstanceBody {
  instance_id?: string;
  params?: unknown;
  instance_retention?: { success_retention?: Duration; error_retention?: Duration };
  location_hint?: string;
}

export function toWireCreateBody(request: CreateInstanceRequest): WireCreateInstanceBody {
  const body: WireCreateInstanceBody = {};
  if (request.instanceId !== undefined) body.instance_id = request.instanceId;
  if (request.params !== undefined) body.params = request.params;
  if (request.retention) {
    body.instance_retention = {};
    if (request.retention.successRetention !== undefined)
      body.instance_retention.success_retention = request.retention.successRetention;
    if (request.retention.errorRetention !== undefined)
      body.instance_retention.error_retention = request.retention.errorRetention;
  }
  if (request.locationHint !== undefined) body.location_hint = request.locationHint;
  return body;
}
