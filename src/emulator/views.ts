/** Records → wire JSON, shaped as production shapes them (docs/upstream-contract.md §3.1-3.4). */
import {
  INSTANCE_STATUSES,
  type DoStepRecord,
  type InstanceRecord,
  type RetentionMs,
  type StepRecord,
  type VersionRecord,
  type WorkflowRecord,
} from './types.js';
import { nextCronTime } from './engine/cron.js';
import { StreamOutput } from './stream-output.js';

const PREVIEW_LIMIT = 1024;
const TRUNCATED = '[truncated output]';
const REDACTED = '[REDACTED]';

export interface ViewOptions {
  /** Keep short step outputs as native JSON (true) or always render previews as JSON text. @default true */
  nativeShortOutputs: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

export function preview(value: unknown, options: ViewOptions): unknown {
  if (value === undefined || value === null) return null;
  if (value instanceof StreamOutput) return value.preview();
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text.length > PREVIEW_LIMIT) return text.slice(0, PREVIEW_LIMIT) + TRUNCATED;
  return options.nativeShortOutputs ? value : text;
}

/** `default_retention` as the API spells it: only the configured fields. */
export function retentionView(retention: RetentionMs) {
  return {
    ...(retention.success === undefined ? {} : { success_retention: retention.success }),
    ...(retention.error === undefined ? {} : { error_retention: retention.error }),
  };
}

function workflowFields(workflow: WorkflowRecord) {
  return {
    id: workflow.id,
    name: workflow.name,
    class_name: workflow.className,
    script_name: workflow.scriptName,
    created_on: iso(workflow.createdOn),
    modified_on: iso(workflow.modifiedOn),
    triggered_on: isoOrNull(workflow.triggeredOn),
  };
}

export function workflowView(workflow: WorkflowRecord, now: number) {
  const counts: Record<string, number> = Object.fromEntries(INSTANCE_STATUSES.map((s) => [s, 0]));
  for (const instance of workflow.instances.values()) counts[instance.status] = (counts[instance.status] ?? 0) + 1;
  const view: Record<string, unknown> = { ...workflowFields(workflow), instances: counts };
  if (workflow.schedules.length > 0) {
    view.schedules = workflow.schedules.map(({ cron }) => {
      const next = nextCronTime(cron, now);
      return { cron, next_instance: next === undefined ? null : iso(next) };
    });
  }
  return view;
}

export function workflowUpsertView(workflow: WorkflowRecord, version: VersionRecord) {
  return {
    ...workflowFields(workflow),
    version_id: version.id,
    is_deleted: 0,
    terminator_running: 0,
  };
}

export function versionView(version: VersionRecord, hasDag: boolean) {
  const view: Record<string, unknown> = {
    id: version.id,
    workflow_id: version.workflowId,
    class_name: version.className,
    created_on: iso(version.createdOn),
    modified_on: iso(version.modifiedOn),
    has_dag: hasDag,
    language: 'javascript',
  };
  if (version.concurrency) view.concurrency = version.concurrency;
  if (version.defaultRetention) view.default_retention = retentionView(version.defaultRetention);
  if (version.limits) view.limits = version.limits;
  return view;
}

export function createdView(instance: InstanceRecord) {
  return {
    id: instance.id,
    status: instance.status,
    version_id: instance.versionId,
    workflow_id: instance.workflowId,
    trigger_source: instance.trigger,
  };
}

export function summaryView(instance: InstanceRecord) {
  return {
    id: instance.id,
    status: instance.status,
    version_id: instance.versionId,
    workflow_id: instance.workflowId,
    created_on: iso(instance.queued),
    modified_on: iso(instance.modified),
    started_on: isoOrNull(instance.start),
    ended_on: isoOrNull(instance.end),
    trigger_source: instance.trigger,
  };
}

function doStepView(step: DoStepRecord, options: ViewOptions) {
  const sensitive = step.config.sensitive === 'output';
  return {
    type: step.type,
    name: step.name,
    start: iso(step.start),
    end: isoOrNull(step.end),
    success: step.success,
    output: step.success === true ? (sensitive ? REDACTED : preview(step.output, options)) : null,
    config: step.config,
    attempts: step.attempts.map((a) => ({
      start: iso(a.start),
      end: isoOrNull(a.end),
      success: a.success,
      error: a.error,
    })),
  };
}

function stepView(step: StepRecord, options: ViewOptions) {
  switch (step.type) {
    case 'step':
    case 'rollback':
      return doStepView(step, options);
    case 'sleep':
      return {
        type: 'sleep',
        name: step.name,
        start: iso(step.start),
        end: iso(step.end),
        finished: step.finished,
        error: step.error,
      };
    case 'waitForEvent':
      return {
        type: 'waitForEvent',
        name: step.name,
        start: iso(step.start),
        end: iso(step.end),
        finished: step.finished,
        error: step.error,
        event_type: step.eventType,
        ...(step.event ? { output: preview(step.event.payload, options) } : {}),
      };
    case 'termination':
      return { type: 'termination', trigger: { source: step.source } };
  }
}

export function detailsView(
  instance: InstanceRecord,
  query: { simple: boolean; order: 'asc' | 'desc' },
  options: ViewOptions,
) {
  const stepCount = instance.steps.reduce((n, s) => n + (s.type === 'termination' ? 0 : 1), 0);
  let steps: unknown[] = [];
  if (!query.simple) {
    steps = instance.steps.map((s) => stepView(s, options));
    if (query.order === 'desc') steps.reverse();
  }
  return {
    status: instance.status,
    params: instance.params ?? null,
    trigger: { source: instance.trigger },
    versionId: instance.versionId,
    queued: iso(instance.queued),
    start: isoOrNull(instance.start),
    end: isoOrNull(instance.end),
    success: instance.success,
    output: instance.output ?? null,
    error: instance.error,
    rollback: instance.rollback,
    ...(instance.schedule ? { schedule: instance.schedule } : {}),
    step_count: stepCount,
    steps,
  };
}

/**
 * The `step` endpoint: the full value of one step, or of one of its attempts. A streamed result stays a
 * {@link StreamOutput} in `output`; the handler serves its bytes raw.
 */
export function stepOutputView(step: StepRecord, attempt: number | undefined): Record<string, unknown> | undefined {
  if (step.type === 'waitForEvent') {
    const status = step.finished ? (step.error ? 'errored' : 'complete') : 'waiting';
    return { status, error: step.error, output: step.event ? step.event.payload : null, event_type: step.eventType };
  }
  if (step.type !== 'step') return undefined;
  const sensitive = step.config.sensitive === 'output';
  const redact = (value: unknown) => (sensitive ? REDACTED : value);
  if (attempt !== undefined) {
    const a = step.attempts[attempt - 1];
    if (!a) return undefined;
    const status = a.success === true ? 'complete' : a.success === false ? 'errored' : 'running';
    return { status, error: a.error, output: a.success === true ? redact(a.output ?? null) : null, attempt };
  }
  if (step.success === true) return { status: 'complete', error: null, output: redact(step.output ?? null) };
  if (step.success === false) return { status: 'errored', error: step.attempts.at(-1)?.error ?? null, output: null };
  const last = step.attempts.at(-1);
  const between = last !== undefined && last.end !== null;
  // A running step with an error is between retries (SDK docs).
  return { status: 'running', error: between ? last.error : null, output: null };
}
