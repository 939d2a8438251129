import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context.js';
import { declareEntity, declareSource } from '../graphql/field-source.js';
import { selectionOf } from '../graphql/selection.js';
import { canTransition } from '../state-machine.js';
import {
  INSTANCE_STATUSES,
  isTerminalStatus,
  TRIGGER_SOURCES,
  type InstanceDetails,
  type InstanceStatus,
  type TriggerSource,
} from '../upstream/types.js';
import { authorizeRead } from './authorization.js';
import { builder } from './builder.js';
import {
  fromInstanceDetails,
  fromInstanceRow,
  fromInstanceStatus,
  fromInstanceSteps,
  fromKey,
  versionFromRow,
} from './field-data.js';
import { checkInstanceId, checkWorkflowName, representationPlace, splitCompositeId, type Place } from './ids.js';
import { lookupInstance } from './lookups.js';
import { Workflow, WorkflowInstance, WorkflowVersion, type InstanceRef, type VersionRef } from './refs.js';
import { stepRefs, WorkflowError, WorkflowStep } from './step.js';

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

/**
 * An instance by its key, for `instance`, `node(id:)` and `_entities`, with the workflow name already checked:
 * authorized first, so that a key without the workflow learns nothing from the instance id; then the id is
 * checked (under `idAt`) and the instance looked up, with its steps when the selection needs them.
 */
function loadInstance(
  key: InstanceRef,
  ctx: Context,
  info: GraphQLResolveInfo,
  idAt: Place = 'id',
): Promise<InstanceRef | null> {
  authorizeRead(ctx, key.workflowName);
  return lookupInstance(ctx, key.workflowName, checkInstanceId(key.instanceId, idAt), selectionOf(info));
}

builder.node(WorkflowInstance, {
  ...declareEntity('instance'),
  description: 'One run of a workflow, with its parameters, status, output and step log.',
  id: {
    ...fromKey,
    description: 'Opaque global id (from the workflow name and instance id).',
    resolve: (ref) => `${ref.workflowName}/${ref.instanceId}`,
    parse: (id) => {
      const { workflowName, rest } = splitCompositeId(id, 'WorkflowInstance');
      return { workflowName, instanceId: checkInstanceId(rest) };
    },
  },
  loadWithoutCache: (key, ctx, info) => loadInstance(key, ctx, info),
  fields: (t) => ({
    instanceId: t.exposeString('instanceId', {
      description: 'The instance id, unique within its workflow.',
      ...fromKey,
    }),
    workflowName: t.exposeString('workflowName', {
      description: 'Name of the workflow this instance runs.',
      ...fromKey,
    }),
    workflow: t.field({
      type: Workflow,
      description: 'The workflow this instance runs.',
      ...declareSource({ kind: 'reference', to: 'workflow', needs: 'key' }),
      resolve: (ref) => ({ name: ref.workflowName }),
    }),
    status: t.field({
      type: InstanceStatusEnum,
      description: 'Current status.',
      ...fromInstanceRow(
        (d) => d.status,
        (s) => s.status,
      ),
    }),
    isTerminal: t.boolean({
      description: 'True when the status is final (COMPLETE, ERRORED or TERMINATED).',
      ...fromInstanceStatus(isTerminalStatus),
    }),
    canPause: t.boolean({
      description: 'Whether `pauseInstance` is allowed from the current status.',
      ...fromInstanceStatus((status) => canTransition(status, 'pause')),
    }),
    canResume: t.boolean({
      description: 'Whether `resumeInstance` is allowed from the current status.',
      ...fromInstanceStatus((status) => canTransition(status, 'resume')),
    }),
    canTerminate: t.boolean({
      description: 'Whether `terminateInstance` is allowed from the current status.',
      ...fromInstanceStatus((status) => canTransition(status, 'terminate')),
    }),
    canRestart: t.boolean({
      description: 'Whether `restartInstance` is allowed from the current status.',
      ...fromInstanceStatus((status) => canTransition(status, 'restart')),
    }),
    version: t.field({
      type: WorkflowVersion,
      nullable: true,
      description: 'The workflow version this instance runs.',
      ...versionFromRow(
        (d) => d.versionId,
        (s) => s.versionId,
        (ref, versionId): VersionRef | null => (versionId ? { workflowName: ref.workflowName, versionId } : null),
      ),
    }),
    createdOn: t.field({
      type: 'DateTime',
      description: 'When the instance was created (for an instance that was not listed: when it was queued).',
      ...fromInstanceRow(
        (d) => d.queuedOn,
        (s) => s.createdOn,
      ),
    }),
    modifiedOn: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When the instance last changed. Only the instance list reports it, so it is null unless a list in the same operation included this instance (`Workflow.instances`, wherever this instance is reached from: `instance`, `node` and the rest answer it then too), or the event is a `workflowInstancesChanged` event of a list poll. No request can fetch it for one instance, so none is made.',
      // Never fetched: the instance list is the only endpoint that reports it.
      ...fromKey,
      resolve: (ref, _a, ctx) => ctx.loaders.summary(ref.workflowName, ref.instanceId)?.modifiedOn ?? null,
    }),
    queuedOn: t.field({
      type: 'DateTime',
      description: 'When the instance was (last) queued.',
      ...fromInstanceDetails((d) => d.queuedOn),
    }),
    startedOn: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the instance started running; null while queued.',
      ...fromInstanceRow(
        (d) => d.startedOn,
        (s) => s.startedOn,
      ),
    }),
    endedOn: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the instance reached a final status; null until then.',
      ...fromInstanceRow(
        (d) => d.endedOn,
        (s) => s.endedOn,
      ),
    }),
    trigger: t.field({
      type: TriggerSourceEnum,
      description:
        'What created the instance; UNKNOWN when Cloudflare does not say (its list rows and details both mark the source optional).',
      ...fromInstanceRow<TriggerSource>(
        (d) => d.trigger,
        (s) => s.triggerSource,
      ),
    }),
    params: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The parameters the instance was created with (`event.payload`).',
      ...fromInstanceDetails((d) => d.params),
    }),
    output: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The value `run()` returned; null until the instance completes.',
      ...fromInstanceDetails((d) => d.output),
    }),
    error: t.field({
      type: WorkflowError,
      nullable: true,
      description: 'Why the instance failed; null unless it errored.',
      ...fromInstanceDetails((d) => d.error),
    }),
    success: t.boolean({
      nullable: true,
      description: 'True when it completed, false when it failed; null while not final.',
      ...fromInstanceDetails((d) => d.success),
    }),
    schedule: t.field({
      type: InstanceSchedule,
      nullable: true,
      description: 'The cron schedule that created the instance; null for other triggers.',
      ...fromInstanceDetails((d) => d.schedule),
    }),
    rollback: t.field({
      type: InstanceRollback,
      nullable: true,
      description: 'The outcome of rollback handlers, when they ran.',
      ...fromInstanceDetails((d) => d.rollback),
    }),
    stepCount: t.int({
      description: 'Number of steps the instance has run (sleeps are not counted upstream).',
      ...fromInstanceDetails((d) => d.stepCount),
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
        name: t.arg.string({
          required: false,
          description:
            'Only the entries logged under this name, counter included (such as `charge-card-1`): one full output is then one upstream request, not one per step. An unknown name gives an empty list.',
        }),
      },
      ...fromInstanceSteps((d, ref, args: { order?: 'asc' | 'desc' | null; name?: string | null }) => {
        const named =
          args.name == null
            ? d.steps
            : d.steps.filter((step) => step.type !== 'termination' && step.name === args.name);
        const steps = stepRefs(ref, named);
        return args.order === 'desc' ? steps.reverse() : steps;
      }),
    }),
  }),
});

// A supergraph's other subgraphs reference an instance by its key; the gateway fetches it through `_entities`
// exactly as `Query.instance` would: same checks, same loaders, `simple` details unless steps are selected.
builder.asEntity(WorkflowInstance, {
  key: builder.selection<{ workflowName: string; instanceId: string }>('workflowName instanceId'),
  resolveReference: (key, ctx, info) =>
    loadInstance(
      {
        workflowName: checkWorkflowName(key.workflowName, representationPlace('workflowName')),
        instanceId: key.instanceId,
      },
      ctx,
      info,
      representationPlace('instanceId'),
    ),
});

builder.queryField('instance', (t) =>
  t.field({
    type: WorkflowInstance,
    nullable: true,
    description: 'One instance by workflow name and instance id; null when it or its workflow does not exist.',
    args: {
      workflowName: t.arg.string({ required: true, description: 'The workflow name.' }),
      instanceId: t.arg.string({ required: true, description: 'The instance id.' }),
    },
    ...declareSource({
      kind: 'lookup',
      of: 'instance',
      args: { workflowName: 'workflowName', instanceId: 'instanceId' },
    }),
    resolve: (_root, args, ctx, info) =>
      loadInstance(
        { workflowName: checkWorkflowName(args.workflowName), instanceId: args.instanceId },
        ctx,
        info,
        'instanceId',
      ),
  }),
);
