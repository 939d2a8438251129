import type { Context } from '../context.js';
import {
  createMany,
  createOne,
  prepareBatch,
  prepareCreate,
  type CreateOutcome,
  type ItemError,
} from '../mutations/create.js';
import {
  ForbiddenError,
  InstanceAlreadyExistsError,
  InstanceNotFoundError,
  InvalidInputError,
  InvalidTransitionError,
  RateLimitedError,
  UpstreamFailureError,
  WorkflowNotFoundError,
} from '../errors/mutation-errors.js';
import { changeStatus, sendEvent, type ChangeResult, type EventResult } from '../mutations/status-change.js';
import {
  validateEventType,
  validateInstanceAddress,
  validatePayloadSize,
  validatePositiveInt,
  validateStepName,
  validateWorkflowName,
} from '../mutations/validation.js';
import type { InstanceStatus, StatusChange } from '../upstream/types.js';
import { wrapErrorIfMatches } from '@pothos/plugin-errors';
import { declareSource } from '../graphql/field-source.js';
import { BATCH_SIZE } from '../upstream/limits.js';
import { authorizeWrite } from './authorization.js';
import { builder } from './builder.js';
import {
  InstanceAlreadyExistsErrorType,
  RateLimitedErrorType,
  UpstreamErrorType,
  WorkflowNotFoundErrorType,
} from './errors.js';
import { InstanceStatusEnum } from './instance.js';
import { WorkflowInstance, type InstanceRef } from './refs.js';

/**
 * The write API: create instances (one or in bulk), change their status, send them events. Every
 * mutation validates its whole input before calling upstream, returns a union of its payload and the
 * errors that can happen, and leaves loaders and live subscribers with the new state.
 */

const LocationHintEnum = builder.enumType('LocationHint', {
  description: 'Where the instance should preferably run (best effort).',
  values: {
    WNAM: { value: 'wnam', description: 'Western North America.' },
    ENAM: { value: 'enam', description: 'Eastern North America.' },
    SAM: { value: 'sam', description: 'South America.' },
    WEUR: { value: 'weur', description: 'Western Europe.' },
    EEUR: { value: 'eeur', description: 'Eastern Europe.' },
    APAC: { value: 'apac', description: 'Asia-Pacific.' },
    APAC_NE: { value: 'apac-ne', description: 'North-East Asia-Pacific.' },
    APAC_SE: { value: 'apac-se', description: 'South-East Asia-Pacific.' },
    OC: { value: 'oc', description: 'Oceania.' },
    AFR: { value: 'afr', description: 'Africa.' },
    ME: { value: 'me', description: 'Middle East.' },
  } as const,
});

const RestartStepTypeEnum = builder.enumType('RestartStepType', {
  description: 'The kind of step a restart starts from.',
  values: {
    DO: { value: 'do', description: 'A `step.do` (shown as type `step` in the step log).' },
    SLEEP: { value: 'sleep', description: 'A `step.sleep` or `step.sleepUntil`.' },
    WAIT_FOR_EVENT: { value: 'waitForEvent', description: 'A `step.waitForEvent`.' },
  } as const,
});

const DURATION_FORMAT =
  'A whole number of milliseconds written as digits (`"86400000"`), or `"<number> <unit>"` with unit second, minute, hour, ' +
  'day, week, month or year, optionally plural (`"7 days"`).';

const RetentionInput = builder.inputType('RetentionInput', {
  description:
    'How long the finished instance and its logs are kept; omitted fields use the workflow or account default.',
  fields: (t) => ({
    successRetention: t.string({ description: `Retention after the instance completes. ${DURATION_FORMAT}` }),
    errorRetention: t.string({ description: `Retention after the instance errors. ${DURATION_FORMAT}` }),
  }),
});

const INSTANCE_ID_RULES =
  '1 to 100 characters: letters, digits, `-` and `_`, not starting with `-`; ids of the form `cf_` + 64 hex digits are reserved. ' +
  'When omitted, the gateway generates a random UUID (the kind the upstream would generate).';
const PARAMS_DESCRIPTION =
  "The workflow's `event.payload`: any JSON value (object, array, string, number, boolean or null), at most 1 MiB as JSON. " +
  'It is sent as that JSON value, so the workflow receives exactly what is given here (a string stays a string). ' +
  'When omitted, no params are sent.';

const CreateInstanceItemInput = builder.inputType('CreateInstanceItemInput', {
  description: 'One instance of a `createInstances` batch.',
  fields: (t) => ({
    instanceId: t.string({ description: `The new instance's id. ${INSTANCE_ID_RULES}` }),
    params: t.field({ type: 'JSON', description: PARAMS_DESCRIPTION }),
    retention: t.field({ type: RetentionInput, description: 'Retention of this instance once it ends.' }),
    locationHint: t.field({ type: LocationHintEnum, description: 'Preferred location (best effort).' }),
  }),
});

const CreateInstanceInput = builder.inputType('CreateInstanceInput', {
  description: 'Input of `createInstance`.',
  fields: (t) => ({
    workflowName: t.string({ required: true, description: 'Name of the workflow to run.' }),
    instanceId: t.string({ description: `The new instance's id. ${INSTANCE_ID_RULES}` }),
    params: t.field({ type: 'JSON', description: PARAMS_DESCRIPTION }),
    retention: t.field({ type: RetentionInput, description: 'Retention of this instance once it ends.' }),
    locationHint: t.field({ type: LocationHintEnum, description: 'Preferred location (best effort).' }),
  }),
});

const CreateInstancesInput = builder.inputType('CreateInstancesInput', {
  description: 'Input of `createInstances`.',
  fields: (t) => ({
    workflowName: t.string({ required: true, description: 'Name of the workflow to run.' }),
    instances: t.field({
      type: [CreateInstanceItemInput],
      required: true,
      description:
        'The instances to create, in order: at least 1, at most the configured limit (1000 by default). Ids must be distinct within the batch.',
    }),
  }),
});

const instanceFields = {
  workflowName: 'Name of the workflow the instance belongs to.',
  instanceId: 'Id of the instance.',
} as const;

function addressInput(name: string, description: string) {
  return builder.inputType(name, {
    description,
    fields: (t) => ({
      workflowName: t.string({ required: true, description: instanceFields.workflowName }),
      instanceId: t.string({ required: true, description: instanceFields.instanceId }),
    }),
  });
}

const PauseInstanceInput = addressInput('PauseInstanceInput', 'Input of `pauseInstance`.');
const ResumeInstanceInput = addressInput('ResumeInstanceInput', 'Input of `resumeInstance`.');

const TerminateInstanceInput = builder.inputType('TerminateInstanceInput', {
  description: 'Input of `terminateInstance`.',
  fields: (t) => ({
    workflowName: t.string({ required: true, description: instanceFields.workflowName }),
    instanceId: t.string({ required: true, description: instanceFields.instanceId }),
    rollback: t.boolean({
      defaultValue: false,
      description: 'Run the rollback handlers registered by completed steps before terminating.',
    }),
  }),
});

const RestartFromInput = builder.inputType('RestartFromInput', {
  description:
    'The step a restart begins at: results of earlier steps are reused; this step and every later one run again.',
  fields: (t) => ({
    stepName: t.string({
      required: true,
      description:
        'The step name as written in the workflow code, without the `-<n>` counter suffix the step log shows (1 to 256 characters, no control characters).',
    }),
    count: t.int({
      defaultValue: 1,
      description: 'Which occurrence of a step with that name and type, counting from 1 (the `<n>` of the step log).',
    }),
    type: t.field({ type: RestartStepTypeEnum, defaultValue: 'do', description: 'The kind of step.' }),
  }),
});

const RestartInstanceInput = builder.inputType('RestartInstanceInput', {
  description: 'Input of `restartInstance`.',
  fields: (t) => ({
    workflowName: t.string({ required: true, description: instanceFields.workflowName }),
    instanceId: t.string({ required: true, description: instanceFields.instanceId }),
    from: t.field({
      type: RestartFromInput,
      description:
        'Restart from this step. When omitted, the instance runs again from scratch, as if new, with the same params.',
    }),
  }),
});

const SendInstanceEventInput = builder.inputType('SendInstanceEventInput', {
  description: 'Input of `sendInstanceEvent`.',
  fields: (t) => ({
    workflowName: t.string({ required: true, description: instanceFields.workflowName }),
    instanceId: t.string({ required: true, description: instanceFields.instanceId }),
    type: t.string({
      required: true,
      description:
        'The event type a `step.waitForEvent` waits for: 1 to 100 characters, letters, digits, `-` and `_`, not starting with `-`.',
    }),
    payload: t.field({
      type: 'JSON',
      description:
        'The event payload: any JSON value, at most 1 MiB as JSON, delivered as that value. When omitted, an empty object is sent (as wrangler does).',
    }),
  }),
});

interface CreatedPayload {
  readonly instance: InstanceRef;
  readonly status: InstanceStatus;
  readonly recovered: boolean;
}

/**
 * The `instance` of a write's payload is nullable: a failed read of the fields selected beyond its key then
 * nulls only this field. Were it non-null, the null would climb through the payload to the mutation's `data`,
 * and the client would lose what the write answered (the id of an instance that now exists).
 */
const WRITTEN_INSTANCE =
  'Null only when a field selected beyond its key could not be read after the write (the error at this path says why); ' +
  'the write was made all the same, and the fields beside this one say what it answered.';

const CreateInstancePayload = builder.objectRef<CreatedPayload>('CreateInstancePayload').implement({
  description: 'The instance `createInstance` created.',
  fields: (t) => ({
    instanceId: t.string({
      nullable: false,
      description: 'The id of the new instance: the given one, or the one the gateway generated.',
      resolve: (p) => p.instance.instanceId,
    }),
    status: t.field({
      type: InstanceStatusEnum,
      nullable: false,
      description: 'The status the Workflows API reported for the new instance when it answered the create.',
      resolve: (p) => p.status,
    }),
    instance: t.field({
      nullable: true,
      type: WorkflowInstance,
      description: `The new instance. ${WRITTEN_INSTANCE}`,
      resolve: (p) => p.instance,
    }),
    recovered: t.exposeBoolean('recovered', {
      description:
        'True when the answer to the create was lost (the connection broke after the request was sent) and the gateway then found the instance, ' +
        'or created it after making sure it did not exist. With a caller-chosen `instanceId`, an instance found with the same params is taken to be ' +
        'this create (or an identical earlier one); with other params it is reported as `InstanceAlreadyExistsError`. A create is never sent twice ' +
        'without first checking that the instance does not exist, so no instance is ever created twice.',
    }),
  }),
});

interface ItemResult {
  readonly index: number;
  readonly outcome: CreateOutcome;
  readonly workflowName: string;
}

const ITEM_ERRORS = [InstanceAlreadyExistsError, RateLimitedError, UpstreamFailureError, WorkflowNotFoundError];

const CreateInstancesItemError = builder.unionType('CreateInstancesItemError', {
  description: 'Why one item of `createInstances` was not created.',
  types: [InstanceAlreadyExistsErrorType, RateLimitedErrorType, UpstreamErrorType, WorkflowNotFoundErrorType],
});

const CreateInstancesItem = builder.objectRef<ItemResult>('CreateInstancesItem').implement({
  description:
    'The outcome of one item of `createInstances`: `error` is null exactly when the item was created; `instance` is set when it was, ' +
    'unless reading the fields selected on it failed.',
  fields: (t) => ({
    index: t.exposeInt('index', { nullable: false, description: 'Position of the item in `input.instances`, from 0.' }),
    instanceId: t.string({
      nullable: false,
      description: 'The id of the instance: the given one, or the one the gateway generated.',
      resolve: (r) => r.outcome.instanceId,
    }),
    status: t.field({
      type: InstanceStatusEnum,
      nullable: true,
      description:
        'The status the Workflows API reported for the created instance when it answered the batch (or the lookup after a lost answer); null when `error` is set.',
      resolve: (r) => (r.outcome.created ? r.outcome.status : null),
    }),
    instance: t.field({
      type: WorkflowInstance,
      nullable: true,
      description:
        'The created instance; null when `error` is set, or when a field selected beyond its key could not be read after the ' +
        'create (the error at this path says why: the instance was created all the same).',
      resolve: (r) => (r.outcome.created ? { workflowName: r.workflowName, instanceId: r.outcome.instanceId } : null),
    }),
    recovered: t.boolean({
      nullable: false,
      description:
        'True when the answer for this item was lost and the instance was then found or created (see `CreateInstancePayload.recovered`).',
      resolve: (r) => r.outcome.recovered,
    }),
    error: t.field({
      type: CreateInstancesItemError,
      nullable: true,
      description:
        'Why the item was not created; null when it was. Ids the upstream skipped because they exist come back as `InstanceAlreadyExistsError`. ' +
        'When a batch call fails after earlier ones succeeded, its items and all later ones (which are not sent) carry that failure.',
      // graphql-js treats a returned Error as a field error: the errors plugin's wrapper makes it a plain result.
      resolve: (r) =>
        r.outcome.error === null ? null : (wrapErrorIfMatches(r.outcome.error, ITEM_ERRORS) as ItemError),
    }),
  }),
});

const CreateInstancesPayload = builder
  .objectRef<{ readonly results: readonly ItemResult[] }>('CreateInstancesPayload')
  .implement({
    description: 'The outcome of `createInstances`, one result per input item, in input order.',
    fields: (t) => ({
      results: t.field({
        nullable: false,
        type: [CreateInstancesItem],
        description: 'One result per item of `input.instances`, in the same order.',
        resolve: (p) => p.results,
      }),
      createdCount: t.int({
        nullable: false,
        description: 'How many of the items were created.',
        resolve: (p) => p.results.filter((r) => r.outcome.created).length,
      }),
    }),
  });

function changePayload<R extends EventResult>(
  name: string,
  description: string,
  reportedStatus?: (result: R) => InstanceStatus,
) {
  return builder.objectRef<R>(name).implement({
    description,
    fields: (t) => ({
      ...(reportedStatus && {
        status: t.field({
          type: InstanceStatusEnum,
          nullable: false,
          description:
            'The status the Workflows API reported when it answered the change (a pause may report `WAITING_FOR_PAUSE`).',
          resolve: reportedStatus,
        }),
      }),
      instance: t.field({
        nullable: true,
        type: WorkflowInstance,
        description:
          'The instance, read after the change (the upstream may still be carrying it out: a pause first shows `WAITING_FOR_PAUSE`). ' +
          WRITTEN_INSTANCE,
        resolve: (p) => p.instance,
      }),
      timestamp: t.field({
        nullable: false,
        type: 'DateTime',
        description: 'When the Workflows API accepted the change.',
        resolve: (p) => p.timestamp,
      }),
    }),
  });
}

const reported = (result: ChangeResult): InstanceStatus => result.status;
const PauseInstancePayload = changePayload('PauseInstancePayload', 'The outcome of `pauseInstance`.', reported);
const ResumeInstancePayload = changePayload('ResumeInstancePayload', 'The outcome of `resumeInstance`.', reported);
const TerminateInstancePayload = changePayload(
  'TerminateInstancePayload',
  'The outcome of `terminateInstance`.',
  reported,
);
const RestartInstancePayload = changePayload('RestartInstancePayload', 'The outcome of `restartInstance`.', reported);
// The events endpoint answers a timestamp only: no status to report.
const SendInstanceEventPayload = changePayload<EventResult>(
  'SendInstanceEventPayload',
  'The outcome of `sendInstanceEvent`.',
);

/** What a status change or an event costs: its request, and the lookup a refusal makes (`mutations/status-change.ts`). */
const CHANGE_SOURCE = declareSource({ kind: 'write', lookupOnRefusal: true });

const CHANGE_ERRORS = [
  ForbiddenError,
  InvalidInputError,
  WorkflowNotFoundError,
  InstanceNotFoundError,
  InvalidTransitionError,
  RateLimitedError,
  UpstreamFailureError,
];

function validateAddress(input: { workflowName: string; instanceId: string }): void {
  validateWorkflowName(input.workflowName, ['input', 'workflowName']);
  validateInstanceAddress(input.instanceId, ['input', 'instanceId']);
}

function statusMutation(
  field: string,
  options: {
    input: typeof PauseInstanceInput;
    payload: typeof PauseInstancePayload;
    description: string;
    change: () => StatusChange;
  },
): void {
  builder.mutationField(field, (t) =>
    t.field({
      ...CHANGE_SOURCE,
      nullable: false,
      type: options.payload,
      description: options.description,
      args: { input: t.arg({ type: options.input, required: true, description: 'What to change.' }) },
      errors: {
        types: CHANGE_ERRORS,
        directResult: true,
        union: { name: `${capitalize(field)}Result`, description: `What \`${field}\` returns.` },
      },
      resolve: (_root, { input }, ctx) =>
        authorizedAndAudited(ctx, field, input, () => {
          validateAddress(input);
          return changeStatus(ctx, input.workflowName, input.instanceId, options.change());
        }),
    }),
  );
}

/**
 * Runs a mutation's resolver once the caller may write to its workflow (the `ForbiddenError` member of the
 * result otherwise, before any upstream call), and writes the mutation's audit line with how it ended.
 */
/** Longest workflow name or instance id an audit line repeats (refused inputs can be megabytes long). */
const AUDITED_NAME_LENGTH = 300;

async function authorizedAndAudited<T>(
  ctx: Context,
  action: string,
  target: { readonly workflowName: string; readonly instanceId?: string | null },
  run: () => T | Promise<T>,
): Promise<T> {
  let outcome = 'ok';
  try {
    // A valid name first: the allowlist and the audit line only ever see names of at most 64 characters.
    validateWorkflowName(target.workflowName, ['input', 'workflowName']);
    authorizeWrite(ctx, target.workflowName);
    return await run();
  } catch (error) {
    outcome = error instanceof Error ? error.name : 'error';
    throw error;
  } finally {
    ctx.audit({
      action,
      workflowName: target.workflowName.slice(0, AUDITED_NAME_LENGTH),
      instanceId: target.instanceId?.slice(0, AUDITED_NAME_LENGTH) ?? null,
      outcome,
    });
  }
}

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function refreshAfterCreate(ctx: Context, workflowName: string, createdIds: readonly string[]): void {
  ctx.loaders.invalidateWorkflow(workflowName);
  for (const id of createdIds) {
    // A lookup earlier in the operation may have cached "not found" for the new id.
    ctx.loaders.invalidateInstance(workflowName, id);
    ctx.live.instanceChanged(ctx.api, workflowName, id);
  }
  ctx.live.workflowChanged(ctx.api, workflowName);
}

builder.mutationField('createInstance', (t) =>
  t.field({
    ...declareSource({ kind: 'write' }),
    nullable: false,
    type: CreateInstancePayload,
    description:
      'Creates and queues one instance of a workflow. The input is validated before anything is sent. If the answer is lost, ' +
      'the gateway checks whether the instance exists before sending again, so an instance is never created twice (see `recovered`).',
    args: { input: t.arg({ type: CreateInstanceInput, required: true, description: 'The instance to create.' }) },
    errors: {
      types: [
        ForbiddenError,
        InvalidInputError,
        WorkflowNotFoundError,
        InstanceAlreadyExistsError,
        RateLimitedError,
        UpstreamFailureError,
      ],
      directResult: true,
      union: { name: 'CreateInstanceResult', description: 'What `createInstance` returns.' },
    },
    resolve: (_root, { input }, ctx) =>
      authorizedAndAudited(ctx, 'createInstance', input, async () => {
        validateWorkflowName(input.workflowName, ['input', 'workflowName']);
        const prepared = prepareCreate(input, ['input']);
        try {
          const outcome = await createOne(ctx.api, input.workflowName, prepared);
          return {
            instance: { workflowName: input.workflowName, instanceId: outcome.instanceId },
            status: outcome.status,
            recovered: outcome.recovered,
          };
        } finally {
          // Even a failed create may have landed (lost answer): never leave a stale "not found" behind.
          refreshAfterCreate(ctx, input.workflowName, [prepared.request.instanceId]);
        }
      }),
  }),
);

builder.mutationField('createInstances', (t) =>
  t.field({
    ...declareSource({ kind: 'write', batch: { input: 'input', list: 'instances', size: BATCH_SIZE } }),
    nullable: false,
    type: CreateInstancesPayload,
    description:
      'Creates many instances of one workflow through the batch endpoint, in calls of at most 100, in input order. The whole input is ' +
      'validated first (nothing is sent if any item is invalid). If the first call fails nothing was created and the mutation returns that ' +
      'error; otherwise each item reports its own outcome.',
    args: { input: t.arg({ type: CreateInstancesInput, required: true, description: 'The instances to create.' }) },
    errors: {
      types: [ForbiddenError, InvalidInputError, WorkflowNotFoundError, RateLimitedError, UpstreamFailureError],
      directResult: true,
      union: { name: 'CreateInstancesResult', description: 'What `createInstances` returns.' },
    },
    resolve: (_root, { input }, ctx) =>
      authorizedAndAudited(ctx, 'createInstances', { workflowName: input.workflowName }, async () => {
        validateWorkflowName(input.workflowName, ['input', 'workflowName']);
        const prepared = prepareBatch(input.instances, ctx.config.createInstancesLimit, ['input', 'instances']);
        let outcomes: CreateOutcome[] | undefined;
        try {
          outcomes = await createMany(ctx.api, input.workflowName, prepared);
        } finally {
          const ids = outcomes
            ? outcomes.filter((o) => o.created).map((o) => o.instanceId)
            : prepared.map((p) => p.request.instanceId);
          refreshAfterCreate(ctx, input.workflowName, ids);
        }
        return { results: outcomes.map((outcome, index) => ({ index, outcome, workflowName: input.workflowName })) };
      }),
  }),
);

statusMutation('pauseInstance', {
  input: PauseInstanceInput,
  payload: PauseInstancePayload,
  description:
    'Asks a running or waiting instance to pause; the step currently executing may finish first (status `WAITING_FOR_PAUSE`).',
  change: () => ({ action: 'pause' }),
});

statusMutation('resumeInstance', {
  input: ResumeInstanceInput,
  payload: ResumeInstancePayload,
  description: 'Resumes a paused instance (or cancels a pending pause).',
  change: () => ({ action: 'resume' }),
});

builder.mutationField('terminateInstance', (t) =>
  t.field({
    ...CHANGE_SOURCE,
    nullable: false,
    type: TerminateInstancePayload,
    description:
      'Stops an instance for good (status `TERMINATED`). A finished instance cannot be terminated; restart it instead.',
    args: { input: t.arg({ type: TerminateInstanceInput, required: true, description: 'What to terminate.' }) },
    errors: {
      types: CHANGE_ERRORS,
      directResult: true,
      union: { name: 'TerminateInstanceResult', description: 'What `terminateInstance` returns.' },
    },
    resolve: (_root, { input }, ctx) =>
      authorizedAndAudited(ctx, 'terminateInstance', input, () => {
        validateAddress(input);
        return changeStatus(ctx, input.workflowName, input.instanceId, {
          action: 'terminate',
          rollback: input.rollback ?? false,
        });
      }),
  }),
);

builder.mutationField('restartInstance', (t) =>
  t.field({
    ...CHANGE_SOURCE,
    nullable: false,
    type: RestartInstancePayload,
    description:
      'Runs an instance again, from scratch or from a named step, whatever its status (finished instances included).',
    args: {
      input: t.arg({ type: RestartInstanceInput, required: true, description: 'What to restart, and from where.' }),
    },
    errors: {
      types: CHANGE_ERRORS,
      directResult: true,
      union: { name: 'RestartInstanceResult', description: 'What `restartInstance` returns.' },
    },
    resolve: (_root, { input }, ctx) =>
      authorizedAndAudited(ctx, 'restartInstance', input, () => {
        validateAddress(input);
        let change: StatusChange = { action: 'restart' };
        if (input.from) {
          const count = input.from.count ?? 1;
          validateStepName(input.from.stepName, ['input', 'from', 'stepName']);
          validatePositiveInt(count, ['input', 'from', 'count'], 'count');
          change = { action: 'restart', from: { name: input.from.stepName, count, type: input.from.type ?? 'do' } };
        }
        return changeStatus(ctx, input.workflowName, input.instanceId, change);
      }),
  }),
);

builder.mutationField('sendInstanceEvent', (t) =>
  t.field({
    ...CHANGE_SOURCE,
    nullable: false,
    type: SendInstanceEventPayload,
    description:
      'Sends an event to an instance: the `step.waitForEvent` waiting for this type receives it (an event sent before the step runs is kept for it).',
    args: { input: t.arg({ type: SendInstanceEventInput, required: true, description: 'The event and its target.' }) },
    errors: {
      types: CHANGE_ERRORS,
      directResult: true,
      union: { name: 'SendInstanceEventResult', description: 'What `sendInstanceEvent` returns.' },
    },
    resolve: (_root, { input }, ctx) =>
      authorizedAndAudited(ctx, 'sendInstanceEvent', input, () => {
        validateAddress(input);
        validateEventType(input.type, ['input', 'type']);
        const payload = input.payload === undefined ? {} : input.payload;
        validatePayloadSize(payload, ['input', 'payload']);
        return sendEvent(ctx, input.workflowName, input.instanceId, input.type, payload);
      }),
  }),
);
