import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context.js';
import { canTransition } from '../state-machine.js';
import {
  INSTANCE_STATUSES,
  isTerminalStatus,
  TRIGGER_SOURCES,
  type InstanceDetails,
  type InstanceStatus,
  type InstanceSummary,
  type TriggerSource,
} from '../upstream/types.js';
import { builder } from './builder.js';
import { vanished } from './upstream-errors.js';
import { checkInstanceId, checkWorkflowName, splitCompositeId } from './ids.js';
import { selectsField } from './selection.js';
import { stepRefs, WorkflowError, WorkflowStep } from './step.js';
import { WorkflowVersion } from './version.js';
import { Workflow } from './workflow.js';

/** Backing shape of the WorkflowInstance object type: a key; all data comes through ctx.loaders. */
export interface InstanceRef {
  readonly workflowName: string;
  readonly instanceId: string;
}

const STATUS_DESCRIPTIONS: Record<InstanceStatus, string> = {
  queued: 'Created or resumed, waiting for a concurrency slot or not yet started.',
  running: 'Executing workflow code.',
  paused: 'Stopped by a user until it is resumed.',
  errored: 'Finished with an uncaught error, exhausted retries or a non-retryable error.',
  terminated: 'Stopped by a user. Final.',
  complete: 'Finished successfully. Final.',
  waitingForPause: 'A pause was requested; the step that is running may finish first.',
  waiting: 'Hibernating in a sleep, an event wait or a retry delay; uses no concurrency slot.',
  rollingBack: 'Rollback handlers are running; ends errored or terminated.',
};

const enumName = (value: string): string => value.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();

/** GraphQL enum `InstanceStatus`; internal values are the upstream strings (`waitingForPause` is `WAITING_FOR_PAUSE`). */
export const InstanceStatusEnum = builder.enumType('InstanceStatus', {
  description: 'Where an instance is in its life cycle. COMPLETE, ERRORED and TERMINATED are final.',
  values: Object.fromEntries(
    INSTANCE_STATUSES.map((status) => [enumName(status), { value: status, description: STATUS_DESCRIPTIONS[status] }]),
  ) as Record<string, { value: InstanceStatus; description: string }>,
});

export const TriggerSourceEnum = builder.enumType('TriggerSource', {
  description: 'What created an instance.',
  values: Object.fromEntries(
    TRIGGER_SOURCES.map((source) => [enumName(source), { value: source, description: `Created by: ${source}.` }]),
  ) as Record<string, { value: TriggerSource; description: string }>,
});

export const StepOrderEnum = builder.enumType('StepOrder', {
  description: 'Order of an instance step log.',
  values: {
    ASC: { value: 'asc' as const, description: 'Oldest step first (the default).' },
    DESC: { value: 'desc' as const, description: 'Newest step first.' },
  },
});

export const WorkflowInstance = builder.objectRef<InstanceRef>('WorkflowInstance');

const InstanceSchedule = builder
  .objectRef<{ readonly cron: string; readonly scheduledTime: Date }>('InstanceSchedule')
  .implement({
    description: 'The cron schedule that created an instance.',
    fields: (t) => ({
      cron: t.exposeString('cron', { description: 'The cron expression, such as `0 3 * * *`.' }),
      scheduledTime: t.field({
        type: 'DateTime',
        description: 'The fire time this instance was created for.',
        resolve: (s) => s.scheduledTime,
      }),
    }),
  });

const RollbackOutcomeEnum = builder.enumType('RollbackOutcome', {
  description: 'How running the rollback handlers ended.',
  values: {
    COMPLETE: { value: 'complete' as const, description: 'Every rollback handler succeeded.' },
    FAILED: { value: 'failed' as const, description: 'A rollback handler failed.' },
  },
});

const InstanceRollback = builder.objectRef<NonNullable<InstanceDetails['rollback']>>('InstanceRollback').implement({
  description: 'The result of running rollback handlers (after a failure, or terminate with rollback).',
  fields: (t) => ({
    outcome: t.field({
      type: RollbackOutcomeEnum,
      description: 'Whether every handler succeeded.',
      resolve: (r) => r.outcome,
    }),
    error: t.field({
      type: WorkflowError,
      nullable: true,
      description: 'The error of the failed handler.',
      resolve: (r) => r.error,
    }),
  }),
});

/** Details of an instance, or a NOT_FOUND error when it vanished after being listed or referenced. */
async function details(ctx: Context, ref: InstanceRef, full = false): Promise<InstanceDetails> {
  const found = await ctx.loaders.instance(ref.workflowName, ref.instanceId, { full });
  if (!found) {
    throw vanished(`Instance ${JSON.stringify(ref.instanceId)} of workflow ${JSON.stringify(ref.workflowName)}`);
  }
  return found;
}

/**
 * Reads a field off the details. When this operation already holds them the value is returned as is, not
 * as a promise: graphql-js then completes the object without a promise per field, which is most of the
 * cost of a by-id lookup's fields.
 */
function fromDetails<T>(ctx: Context, ref: InstanceRef, read: (d: InstanceDetails) => T, full = false): T | Promise<T> {
  const known = ctx.loaders.knownDetails(ref.workflowName, ref.instanceId);
  if (known && !(full && known.simple)) return read(known);
  return details(ctx, ref, full).then(read);
}

/** A field that the list row answers: details already at hand win, then the row, then a `simple` fetch. */
function pick<T>(
  ctx: Context,
  ref: InstanceRef,
  fromDetailsOf: (d: InstanceDetails) => T,
  fromRow: (s: InstanceSummary) => T,
): T | Promise<T> {
  const known = ctx.loaders.knownDetails(ref.workflowName, ref.instanceId);
  if (known) return fromDetailsOf(known);
  const row = ctx.loaders.summary(ref.workflowName, ref.instanceId);
  if (row) return fromRow(row);
  return details(ctx, ref).then(fromDetailsOf);
}

const statusOf = (ctx: Context, ref: InstanceRef): InstanceStatus | Promise<InstanceStatus> =>
  pick(
    ctx,
    ref,
    (d) => d.status,
    (s) => s.status,
  );

/**
 * Looks an instance up for a root or workflow field: null when it does not exist. Fetches the step log
 * in the same request when the selection asks for `steps`.
 */
export async function lookupInstance(
  ctx: Context,
  workflowName: string,
  instanceId: string,
  info: GraphQLResolveInfo,
): Promise<InstanceRef | null> {
  const found = await ctx.loaders.instance(workflowName, instanceId, { full: selectsField(info, 'steps') });
  return found ? { workflowName, instanceId } : null;
}

builder.node(WorkflowInstance, {
  description: 'One run of a workflow, with its parameters, status, output and step log.',
  id: {
    description: 'Opaque global id (from the workflow name and instance id).',
    resolve: (ref) => `${ref.workflowName}/${ref.instanceId}`,
    parse: (id) => {
      const { workflowName, rest } = splitCompositeId(id, 'WorkflowInstance');
      return { workflowName, instanceId: checkInstanceId(rest) };
    },
  },
  loadWithoutCache: (key, ctx, info) => lookupInstance(ctx, key.workflowName, key.instanceId, info),
  fields: (t) => ({
    instanceId: t.exposeString('instanceId', { description: 'The instance id, unique within its workflow.' }),
    workflowName: t.exposeString('workflowName', { description: 'Name of the workflow this instance runs.' }),
    workflow: t.field({
      type: Workflow,
      description: 'The workflow this instance runs.',
      resolve: (ref) => ({ name: ref.workflowName }),
    }),
    status: t.field({
      type: InstanceStatusEnum,
      description: 'Current status.',
      resolve: (ref, _a, ctx) => statusOf(ctx, ref),
    }),
    isTerminal: t.boolean({
      description: 'True when the status is final (COMPLETE, ERRORED or TERMINATED).',
      resolve: async (ref, _a, ctx) => isTerminalStatus(await statusOf(ctx, ref)),
    }),
    canPause: t.boolean({
      description: 'Whether `pauseInstance` is allowed from the current status.',
      resolve: async (ref, _a, ctx) => canTransition(await statusOf(ctx, ref), 'pause'),
    }),
    canResume: t.boolean({
      description: 'Whether `resumeInstance` is allowed from the current status.',
      resolve: async (ref, _a, ctx) => canTransition(await statusOf(ctx, ref), 'resume'),
    }),
    canTerminate: t.boolean({
      description: 'Whether `terminateInstance` is allowed from the current status.',
      resolve: async (ref, _a, ctx) => canTransition(await statusOf(ctx, ref), 'terminate'),
    }),
    canRestart: t.boolean({
      description: 'Whether `restartInstance` is allowed from the current status.',
      resolve: async (ref, _a, ctx) => canTransition(await statusOf(ctx, ref), 'restart'),
    }),
    version: t.field({
      type: WorkflowVersion,
      nullable: true,
      description: 'The workflow version this instance runs.',
      resolve: async (ref, _a, ctx) => {
        const versionId = await pick(
          ctx,
          ref,
          (d) => d.versionId,
          (s) => s.versionId,
        );
        return versionId ? { workflowName: ref.workflowName, versionId } : null;
      },
    }),
    createdOn: t.field({
      type: 'DateTime',
      description: 'When the instance was created (for an instance that was not listed: when it was queued).',
      resolve: (ref, _a, ctx) =>
        pick(
          ctx,
          ref,
          (d) => d.queuedOn,
          (s) => s.createdOn,
        ),
    }),
    modifiedOn: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When the instance last changed. Only the instance list reports it: null for an instance fetched by id.',
      resolve: (ref, _a, ctx) => ctx.loaders.summary(ref.workflowName, ref.instanceId)?.modifiedOn ?? null,
    }),
    queuedOn: t.field({
      type: 'DateTime',
      description: 'When the instance was (last) queued.',
      resolve: (ref, _a, ctx) => fromDetails(ctx, ref, (d) => d.queuedOn),
    }),
    startedOn: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the instance started running; null while queued.',
      resolve: (ref, _a, ctx) =>
        pick(
          ctx,
          ref,
          (d) => d.startedOn,
          (s) => s.startedOn,
        ),
    }),
    endedOn: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the instance reached a final status; null until then.',
      resolve: (ref, _a, ctx) =>
        pick(
          ctx,
          ref,
          (d) => d.endedOn,
          (s) => s.endedOn,
        ),
    }),
    trigger: t.field({
      type: TriggerSourceEnum,
      nullable: true,
      description: 'What created the instance; null when the instance list did not say.',
      resolve: (ref, _a, ctx) =>
        pick<TriggerSource | null>(
          ctx,
          ref,
          (d) => d.trigger,
          (s) => s.triggerSource,
        ),
    }),
    params: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The parameters the instance was created with (`event.payload`).',
      resolve: (ref, _a, ctx) => fromDetails(ctx, ref, (d) => d.params),
    }),
    output: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The value `run()` returned; null until the instance completes.',
      resolve: (ref, _a, ctx) => fromDetails(ctx, ref, (d) => d.output),
    }),
    error: t.field({
      type: WorkflowError,
      nullable: true,
      description: 'Why the instance failed; null unless it errored.',
      resolve: (ref, _a, ctx) => fromDetails(ctx, ref, (d) => d.error),
    }),
    success: t.boolean({
      nullable: true,
      description: 'True when it completed, false when it failed; null while not final.',
      resolve: (ref, _a, ctx) => fromDetails(ctx, ref, (d) => d.success),
    }),
    schedule: t.field({
      type: InstanceSchedule,
      nullable: true,
      description: 'The cron schedule that created the instance; null for other triggers.',
      resolve: (ref, _a, ctx) => fromDetails(ctx, ref, (d) => d.schedule),
    }),
    rollback: t.field({
      type: InstanceRollback,
      nullable: true,
      description: 'The outcome of rollback handlers, when they ran.',
      resolve: (ref, _a, ctx) => fromDetails(ctx, ref, (d) => d.rollback),
    }),
    stepCount: t.int({
      description: 'Number of steps the instance has run (sleeps are not counted upstream).',
      resolve: (ref, _a, ctx) => fromDetails(ctx, ref, (d) => d.stepCount),
    }),
    steps: t.field({
      type: [WorkflowStep],
      description:
        'The step log. Each step output here is a preview; `DoStep.output` and `WaitForEventStep.payload` fetch full values.',
      args: {
        order: t.arg({
          type: StepOrderEnum,
          defaultValue: 'asc',
          description: 'Oldest first (ASC, the default) or newest first.',
        }),
      },
      resolve: (ref, args, ctx) =>
        fromDetails(
          ctx,
          ref,
          (d) => {
            const steps = stepRefs(ref, d.steps);
            return args.order === 'desc' ? steps.reverse() : steps;
          },
          true,
        ),
    }),
  }),
});

builder.queryField('instance', (t) =>
  t.field({
    type: WorkflowInstance,
    nullable: true,
    description: 'One instance by workflow name and instance id; null when it does not exist.',
    args: {
      workflowName: t.arg.string({ required: true, description: 'The workflow name.' }),
      id: t.arg.string({ required: true, description: 'The instance id.' }),
    },
    resolve: (_root, args, ctx, info) =>
      lookupInstance(ctx, checkWorkflowName(args.workflowName), checkInstanceId(args.id), info),
  }),
);
