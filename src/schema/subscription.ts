import { GraphQLError, Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import type { Context } from '../context.js';
import { refusalError, ShuttingDownError, SubscriptionLimitError } from '../subscriptions/errors.js';
import type { InstanceStatusEvent, LiveItem, LiveStream } from '../subscriptions/types.js';
import { NotFoundError } from '../upstream/errors.js';
import type { InstanceDetails } from '../upstream/types.js';
import { builder } from './builder.js';
import { checkInstanceId, checkWorkflowName } from './ids.js';
import { InstanceStatusEnum, WorkflowInstance, type InstanceRef } from './instance.js';
import { toGraphQLError } from './upstream-errors.js';

/**
 * Fields of `WorkflowInstance` that resolve from the key alone. A subscriber selecting only these (and the
 * event's own fields) needs no instance details, so its loop only has to know statuses.
 */
const KEY_FIELDS = new Set(['__typename', 'id', 'instanceId', 'workflowName']);

/** Whether any `instance` selected under the subscription field asks for more than its key. */
function needsInstanceDetails(info: GraphQLResolveInfo): boolean {
  const seen = new Set<string>();
  const fields = (
    set: SelectionSetNode | undefined,
    visit: (name: string, sub: SelectionSetNode | undefined) => boolean,
  ): boolean =>
    set?.selections.some((selection) => {
      switch (selection.kind) {
        case Kind.FIELD:
          return visit(selection.name.value, selection.selectionSet);
        case Kind.INLINE_FRAGMENT:
          return fields(selection.selectionSet, visit);
        case Kind.FRAGMENT_SPREAD: {
          const name = selection.name.value;
          if (seen.has(name)) return false;
          seen.add(name);
          return fields(info.fragments[name]?.selectionSet, visit);
        }
        default:
          return false;
      }
    }) ?? false;
  const beyondKey = (set: SelectionSetNode | undefined): boolean => fields(set, (name) => !KEY_FIELDS.has(name));
  return info.fieldNodes.some((node) =>
    fields(node.selectionSet, (name, sub) => name === 'instance' && beyondKey(sub)),
  );
}

/** Refusals of the hub as coded GraphQL errors: they are meant for the client, so never masked. */
function admitted<T>(open: () => LiveStream<T>): LiveStream<T> {
  try {
    return open();
  } catch (error) {
    if (error instanceof SubscriptionLimitError || error instanceof ShuttingDownError) throw refusalError(error);
    throw error;
  }
}

/** Unwraps one stream item; the error that ends a stream becomes the event's GraphQL error. */
function unwrap<T>(item: LiveItem<T>, workflowName: string, instanceId?: string): T {
  if (item.error === undefined) return item.value;
  const error = item.error;
  if (error instanceof NotFoundError) {
    const what =
      error.resource === 'workflow' || instanceId === undefined
        ? `Workflow ${JSON.stringify(workflowName)} does not exist.`
        : `Instance ${JSON.stringify(instanceId)} of workflow ${JSON.stringify(workflowName)} does not exist.`;
    throw new GraphQLError(what, { extensions: { code: 'NOT_FOUND' } });
  }
  throw toGraphQLError(error);
}

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

const instanceArgs = (t: Parameters<Parameters<typeof builder.subscriptionField>[1]>[0]) => ({
  workflowName: t.arg.string({ required: true, description: 'The workflow name.' }),
  instanceId: t.arg.string({ required: true, description: 'The instance id.' }),
});

builder.subscriptionField('instanceStatusChanged', (t) =>
  t.field({
    type: InstanceStatusEventRef,
    description:
      'The current status of an instance first, then every status change; completes after a final status (COMPLETE, ERRORED, TERMINATED), whose event is included. Fed by shared polling every `POLL_INTERVAL_MS` (slower while queued, paused or waiting); mutations through this server are reported at once.',
    args: instanceArgs(t),
    subscribe: (_root, args, ctx, info) => {
      const workflowName = checkWorkflowName(args.workflowName);
      const instanceId = checkInstanceId(args.instanceId, 'instanceId');
      return admitted(() =>
        ctx.live.watchInstanceStatus(ctx.api, workflowName, instanceId, { needsDetails: needsInstanceDetails(info) }),
      );
    },
    resolve: (item: LiveItem<InstanceStatusEvent>, args) => unwrap(item, args.workflowName, args.instanceId),
  }),
);

builder.subscriptionField('instanceUpdated', (t) =>
  t.field({
    type: WorkflowInstance,
    description:
      'The instance now, then again after every change: a status change, a new step, a step finishing, a new attempt. Completes after a final status.',
    args: instanceArgs(t),
    subscribe: (_root, args, ctx) => {
      const workflowName = checkWorkflowName(args.workflowName);
      const instanceId = checkInstanceId(args.instanceId, 'instanceId');
      return admitted(() => ctx.live.watchInstanceUpdates(ctx.api, workflowName, instanceId));
    },
    resolve: (item: LiveItem<InstanceDetails>, args, ctx) => {
      const details = unwrap(item, args.workflowName, args.instanceId);
      return instanceOf(ctx, args.workflowName, details.id, details);
    },
  }),
);

builder.subscriptionField('workflowInstancesChanged', (t) =>
  t.field({
    type: InstanceStatusEventRef,
    description:
      "Every new instance of a workflow and every status change of one, from the moment of subscribing (`previousStatus` is null for a new instance). With `statuses`, only events whose new status is listed. Changes are found on the workflow's instance list (its 2,000 most recent instances) and through mutations made on this server.",
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
      const statuses = args.statuses ?? null;
      return admitted(() =>
        ctx.live.watchWorkflowInstances(ctx.api, workflowName, { statuses, needsDetails: needsInstanceDetails(info) }),
      );
    },
    resolve: (item: LiveItem<InstanceStatusEvent>, args) => unwrap(item, args.workflowName),
  }),
);
