import { getNamedType, isObjectType, type GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context.js';
import { declareSource, instanceNeeds, sourceOf } from '../graphql/field-source.js';
import { fieldsOf, selectionOf } from '../graphql/selection.js';
import { watchEnd } from '../errors/from-upstream.js';
import { ShuttingDownError, SubscriptionLimitError, subscriptionRefusedError } from '../errors/subscription-errors.js';
import { shareExecution } from '../subscriptions/shared-execution.js';
import type { InstanceStatusEvent, LiveItem, LiveStream } from '../subscriptions/types.js';
import type { InstanceDetails } from '../upstream/types.js';
import { authorizeRead } from './authorization.js';
import { builder } from './builder.js';
import { checkInstanceId, checkWorkflowName } from './ids.js';
import { InstanceStatusEnum } from './instance.js';
import { WorkflowInstance, type InstanceRef } from './refs.js';

/**
 * Whether the event's `instance` is selected with more than its key (see `graphql/field-source.ts`). A
 * subscriber selecting only key fields needs no instance details, so its loop only has to know statuses.
 */
function needsInstanceDetails(info: GraphQLResolveInfo): boolean {
  const event = getNamedType(info.returnType);
  if (!isObjectType(event)) return true;
  const selection = selectionOf(info);
  return fieldsOf(selection, event).some((field) => {
    const instance = getNamedType(field.def.type);
    if (sourceOf(field.def)?.kind !== 'subject' || !isObjectType(instance)) return false;
    return instanceNeeds(fieldsOf({ op: selection.op, sets: field.selectionSets }, instance)) !== 'key';
  });
}

/**
 * The stream `open` opens, as the executor takes it (its events' executions are shared, src/subscriptions/shared-execution.ts).
 * Refusals of the hub become coded GraphQL errors: they are meant for the client, so never masked.
 */
function admitted<T>(ctx: Context, open: () => LiveStream<T>): LiveStream<T> {
  try {
    return shareExecution(ctx, open());
  } catch (error) {
    if (error instanceof SubscriptionLimitError || error instanceof ShuttingDownError)
      throw subscriptionRefusedError(error);
    throw error;
  }
}

/**
 * Unwraps one stream item. The error that ends a stream is its last event: `null` when the watched workflow or
 * instance does not exist (see `watchEnd`), otherwise the event's GraphQL error.
 */
function unwrap<T>(item: LiveItem<T>): T | null {
  return item.error === undefined ? item.value : watchEnd(item.error);
}

/** The end of a subscription to something that does not exist, in its description (`watched`: what it names). */
const notFoundRule = (watched: 'workflow' | 'workflow or instance') =>
  ` When the ${watched} does not exist, or stops existing, the subscription sends one \`null\` event and completes, as ${watched === 'workflow' ? '`workflow` answers' : '`instance` and `workflow` answer'} \`null\`.`;

/** The instance behind an event; details the poll fetched are primed so its fields need no upstream call. */
function instanceOf(
  ctx: Context,
  workflowName: string,
  instanceId: string,
  details: InstanceDetails | null,
): InstanceRef {
  // Primed for every event: a subscription keeps one context, and its loaders must not answer from an older event.
  if (details) ctx.loaders.primeInstance(details);
  return { workflowName, instanceId };
}

const InstanceStatusEventRef = builder.objectRef<InstanceStatusEvent>('InstanceStatusEvent').implement({
  description: 'An instance appeared or changed status.',
  fields: (t) => ({
    instance: t.field({
      type: WorkflowInstance,
      description: 'The instance as it is at this event. Its fields resolve from the data the poll fetched.',
      ...declareSource({ kind: 'subject' }),
      resolve: (event, _args, ctx) => instanceOf(ctx, event.workflowName, event.instanceId, event.details),
    }),
    status: t.field({
      type: InstanceStatusEnum,
      description: 'The status the instance has now.',
      resolve: (event) => event.status,
    }),
    previousStatus: t.field({
      type: InstanceStatusEnum,
      nullable: true,
      description:
        'The status this subscriber saw before; null on the first event of a stream and for a new instance. When a slow subscriber falls behind, intermediate statuses are skipped and this is the last one it received.',
      resolve: (event) => event.previousStatus,
    }),
    at: t.field({
      type: 'DateTime',
      description:
        "When the status was reached, as far as the API tells: the instance's modification time from the list, its end time once finished, otherwise the time the gateway saw it.",
      resolve: (event) => event.at,
    }),
  }),
});

/** The arguments that name the instance of an instance subscription (see `instanceArgs`). */
const INSTANCE_KEY_ARGS = { workflowName: 'workflowName', instanceId: 'instanceId' } as const;

const instanceArgs = (t: Parameters<Parameters<typeof builder.subscriptionField>[1]>[0]) => ({
  workflowName: t.arg.string({ required: true, description: 'The workflow name.' }),
  instanceId: t.arg.string({ required: true, description: 'The instance id.' }),
});

builder.subscriptionField('instanceStatusChanged', (t) =>
  t.field({
    type: InstanceStatusEventRef,
    nullable: true,
    ...declareSource({ kind: 'watch', feed: 'instance', args: INSTANCE_KEY_ARGS }),
    description:
      'The current status of an instance first, then every status change; completes after a final status (COMPLETE, ERRORED, TERMINATED), whose event is included. Fed by shared polling every `POLL_INTERVAL_MS` (slower while queued, paused or waiting); mutations through this server are reported at once.' +
      notFoundRule('workflow or instance'),
    args: instanceArgs(t),
    subscribe: (_root, args, ctx, info) => {
      const workflowName = checkWorkflowName(args.workflowName);
      authorizeRead(ctx, workflowName);
      const instanceId = checkInstanceId(args.instanceId, 'instanceId');
      return admitted(ctx, () =>
        ctx.live.watchInstanceStatus(ctx.api, workflowName, instanceId, { needsDetails: needsInstanceDetails(info) }),
      );
    },
    resolve: (item: LiveItem<InstanceStatusEvent>) => unwrap(item),
  }),
);

builder.subscriptionField('instanceUpdated', (t) =>
  t.field({
    type: WorkflowInstance,
    nullable: true,
    ...declareSource({ kind: 'watch', feed: 'instance', args: INSTANCE_KEY_ARGS }),
    description:
      'The instance now, then again after every change: a status change, a new step, a step finishing, a new attempt. Completes after a final status.' +
      notFoundRule('workflow or instance'),
    args: instanceArgs(t),
    subscribe: (_root, args, ctx) => {
      const workflowName = checkWorkflowName(args.workflowName);
      authorizeRead(ctx, workflowName);
      const instanceId = checkInstanceId(args.instanceId, 'instanceId');
      return admitted(ctx, () => ctx.live.watchInstanceUpdates(ctx.api, workflowName, instanceId));
    },
    resolve: (item: LiveItem<InstanceDetails>, args, ctx) => {
      const details = unwrap(item);
      return details && instanceOf(ctx, args.workflowName, details.id, details);
    },
  }),
);

builder.subscriptionField('workflowInstancesChanged', (t) =>
  t.field({
    type: InstanceStatusEventRef,
    nullable: true,
    ...declareSource({ kind: 'watch', feed: 'workflow', args: { workflowName: 'workflowName' } }),
    description:
      "Every new instance of a workflow and every status change of one, from the moment of subscribing (`previousStatus` is null for a new instance). With `statuses`, only events whose new status is listed. Changes are found on the workflow's instance list (its 2,000 most recent instances) and through mutations made on this server." +
      notFoundRule('workflow'),
    args: {
      workflowName: t.arg.string({ required: true, description: 'The workflow name.' }),
      statuses: t.arg({
        type: [InstanceStatusEnum],
        required: false,
        description: 'Only report instances that reach one of these statuses.',
      }),
    },
    subscribe: (_root, args, ctx, info) => {
      const workflowName = checkWorkflowName(args.workflowName);
      authorizeRead(ctx, workflowName);
      const statuses = args.statuses ?? null;
      return admitted(ctx, () =>
        ctx.live.watchWorkflowInstances(ctx.api, workflowName, { statuses, needsDetails: needsInstanceDetails(info) }),
      );
    },
    resolve: (item: LiveItem<InstanceStatusEvent>) => unwrap(item),
  }),
);
