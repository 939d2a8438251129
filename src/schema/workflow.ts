import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context.js';
import { INSTANCE_STATUSES, type InstanceStatus, type Workflow as WorkflowInfo } from '../upstream/types.js';
import { builder } from './builder.js';
import { checkInstanceId, checkWorkflowName } from './ids.js';
import { InstanceStatusEnum, lookupInstance, WorkflowInstance, type InstanceRef } from './instance.js';
import {
  connectionFingerprint,
  DEFAULT_PAGE_SIZE,
  resolveOffsetConnection,
  type ConnectionArgs,
  type OffsetConnection,
} from './pagination.js';
import { childFields, selectsFieldIn } from './selection.js';
import { badUserInput, vanished } from './upstream-errors.js';
import { WorkflowVersion, type VersionRef } from './version.js';

type InstanceConnection = OffsetConnection<InstanceRef>;
type VersionConnection = OffsetConnection<VersionRef>;

interface InstancesArgs extends ConnectionArgs {
  readonly status?: InstanceStatus | null;
  readonly createdAfter?: Date | null;
  readonly createdBefore?: Date | null;
}

/** Backing shape of Workflow: its name; data comes through ctx.loaders (the workflow list primes them). */
export interface WorkflowRef {
  readonly name: string;
  /**
   * Connections `Query.workflow` already started while it found out whether the workflow exists, by
   * {@link connectionKey}: the connection fields take them instead of asking again.
   */
  readonly started?: {
    readonly instances: ReadonlyMap<string, Promise<InstanceConnection>>;
    readonly versions: ReadonlyMap<string, Promise<VersionConnection>>;
  };
}

export const Workflow = builder.objectRef<WorkflowRef>('Workflow');

/**
 * The instance list's own order (newest first), said out loud on cursor requests: the contract leaves
 * `direction` meaningful only next to a cursor, so its default there need not be the page order.
 */
const INSTANCE_LIST_DIRECTION = 'desc';

async function load(ctx: Context, ref: WorkflowRef): Promise<WorkflowInfo> {
  const found = await ctx.loaders.workflow(ref.name);
  if (!found) {
    throw vanished(`Workflow ${JSON.stringify(ref.name)}`);
  }
  return found;
}

const InstanceCounts = builder.objectRef<Readonly<Record<InstanceStatus, number>>>('InstanceCounts').implement({
  description: "How many of a workflow's instances are in each status.",
  fields: (t) => ({
    ...Object.fromEntries(
      INSTANCE_STATUSES.map((status) => [
        status,
        t.int({ description: `Instances in status ${status}.`, resolve: (counts) => counts[status] }),
      ]),
    ),
    total: t.int({
      description: 'All instances, whatever their status.',
      resolve: (counts) => INSTANCE_STATUSES.reduce((sum, status) => sum + counts[status], 0),
    }),
  }),
});

const WorkflowSchedule = builder.objectRef<WorkflowInfo['schedules'][number]>('WorkflowSchedule').implement({
  description: 'A cron trigger of a workflow.',
  fields: (t) => ({
    cron: t.exposeString('cron', { description: 'The cron expression, such as `0 3 * * *`.' }),
    nextInstance: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When it fires next; null when unknown.',
      resolve: (s) => s.nextInstance,
    }),
  }),
});

function checkDateRange(after: Date | null | undefined, before: Date | null | undefined): void {
  if (after && before && after.getTime() > before.getTime()) {
    throw badUserInput('`createdAfter` must not be later than `createdBefore`');
  }
}

/** Identifies a connection field's arguments: the same arguments reach the same upstream pages. */
function connectionKey(args: InstancesArgs): string {
  return JSON.stringify([
    args.first,
    args.after,
    args.last,
    args.before,
    args.status,
    args.createdAfter,
    args.createdBefore,
  ]);
}

async function instancesConnection(ctx: Context, name: string, args: InstancesArgs): Promise<InstanceConnection> {
  checkDateRange(args.createdAfter, args.createdBefore);
  const filters = {
    ...(args.status ? { status: args.status } : {}),
    ...(args.createdAfter ? { dateStart: args.createdAfter } : {}),
    ...(args.createdBefore ? { dateEnd: args.createdBefore } : {}),
  };
  const connection = await resolveOffsetConnection(args, {
    fingerprint: connectionFingerprint(
      'instances',
      name,
      args.status,
      args.createdAfter?.toISOString(),
      args.createdBefore?.toISOString(),
    ),
    defaultSize: DEFAULT_PAGE_SIZE,
    read: (page, perPage) => ctx.loaders.listInstances(name, { ...filters, page, perPage }),
    readAfter: (cursor, perPage) =>
      ctx.loaders.listInstances(name, { ...filters, cursor, perPage, direction: INSTANCE_LIST_DIRECTION }),
  });
  return {
    ...connection,
    edges: connection.edges.map((e) => ({ cursor: e.cursor, node: { workflowName: name, instanceId: e.node.id } })),
  };
}

async function versionsConnection(ctx: Context, name: string, args: ConnectionArgs): Promise<VersionConnection> {
  const connection = await resolveOffsetConnection(args, {
    fingerprint: connectionFingerprint('versions', name),
    defaultSize: DEFAULT_PAGE_SIZE,
    read: (page, perPage) => ctx.loaders.listVersions(name, { page, perPage }),
  });
  return {
    ...connection,
    edges: connection.edges.map((e) => ({ cursor: e.cursor, node: { workflowName: name, versionId: e.node.id } })),
  };
}

const isBadUserInput = (error: unknown): boolean =>
  error instanceof Error && (error as { extensions?: { code?: unknown } }).extensions?.code === 'BAD_USER_INPUT';

/**
 * `Query.workflow`: the workflow, or null when it does not exist. The workflow's own record is only
 * fetched when a field needs it (or nothing else can tell whether the workflow exists): the upstream
 * calls of the selected connections and lookups (`instances`, `versions`, `latestVersion`, `instance`)
 * start right away, in parallel, and any of them answers "no such workflow". The connections are handed
 * to the fields through the ref, so a dashboard costs its list call and no more, in one round trip.
 */
async function lookupWorkflow(ctx: Context, name: string, info: GraphQLResolveInfo): Promise<WorkflowRef | null> {
  const instances = new Map<string, Promise<InstanceConnection>>();
  const versions = new Map<string, Promise<VersionConnection>>();
  const probes: Promise<unknown>[] = [];
  let needsRecord = false;
  for (const field of childFields(info)) {
    // Refused arguments fail that field before it runs; it neither needs nor proves anything.
    if (field.args === null) continue;
    const args = field.args;
    switch (field.name) {
      case 'id':
      case 'name':
        break;
      case 'instances': {
        const key = connectionKey(args);
        if (!instances.has(key)) instances.set(key, instancesConnection(ctx, name, args));
        break;
      }
      case 'versions': {
        const key = connectionKey(args);
        if (!versions.has(key)) versions.set(key, versionsConnection(ctx, name, args));
        break;
      }
      case 'latestVersion':
        probes.push(ctx.loaders.latestVersion(name));
        break;
      case 'instance': {
        const full = selectsFieldIn(field.selectionSets, info.fragments, 'steps');
        probes.push((async () => ctx.loaders.instance(name, checkInstanceId(String(args['id'])), { full }))());
        break;
      }
      default:
        needsRecord = true;
    }
  }
  probes.push(...instances.values(), ...versions.values());
  if (needsRecord || probes.length === 0) probes.push(ctx.loaders.workflow(name));
  const results = await Promise.allSettled(probes);
  if (ctx.loaders.workflowMissing(name)) return null;
  const ref: WorkflowRef = { name, started: { instances, versions } };
  // An upstream answer (or an upstream failure, which the fields report at their own paths) settles it;
  // when every probe was refused before reaching upstream, only the workflow's record can tell.
  if (results.some((r) => r.status === 'fulfilled' || !isBadUserInput(r.reason))) return ref;
  return (await ctx.loaders.workflow(name)) ? ref : null;
}

builder.node(Workflow, {
  description: 'A workflow: a Worker class whose `run()` Cloudflare executes as durable instances.',
  id: {
    description: 'Opaque global id (from the workflow name).',
    resolve: (ref) => ref.name,
    parse: (id) => checkWorkflowName(id, 'id'),
  },
  loadOne: async (name, ctx) => ((await ctx.loaders.workflow(name)) ? { name } : null),
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The workflow name, unique in the account.' }),
    workflowId: t.string({
      description: "Cloudflare's id of the workflow (a uuid).",
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).id,
    }),
    className: t.string({
      description: 'The exported workflow class.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).className,
    }),
    scriptName: t.string({
      description: 'The Worker script holding the class.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).scriptName,
    }),
    createdOn: t.field({
      type: 'DateTime',
      description: 'When the workflow was created.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).createdOn,
    }),
    modifiedOn: t.field({
      type: 'DateTime',
      description: 'When it last changed.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).modifiedOn,
    }),
    triggeredOn: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When an instance was last created; null if never.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).triggeredOn,
    }),
    scriptDeleted: t.boolean({
      description: 'True when the bound Worker was deleted and the workflow is inactive.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).scriptDeleted,
    }),
    instanceCounts: t.field({
      type: InstanceCounts,
      description: 'Instances per status, as counted by Cloudflare.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).instanceCounts,
    }),
    schedules: t.field({
      type: [WorkflowSchedule],
      description: 'Cron triggers; empty when there are none.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).schedules,
    }),
    latestVersion: t.field({
      type: WorkflowVersion,
      nullable: true,
      description: 'The newest version; null when none is deployed.',
      resolve: async (ref, _a, ctx): Promise<VersionRef | null> => {
        const latest = await ctx.loaders.latestVersion(ref.name);
        return latest ? { workflowName: ref.name, versionId: latest.id } : null;
      },
    }),
    versions: t.connection(
      {
        type: WorkflowVersion,
        description: 'Versions, newest first. `first`/`last` at most 100 (default 20).',
        resolve: (ref, args, ctx) =>
          ref.started?.versions.get(connectionKey(args)) ?? versionsConnection(ctx, ref.name, args),
      },
      {
        name: 'WorkflowVersionConnection',
        description: 'A page of workflow versions.',
        fields: (c) => ({
          totalCount: c.int({ description: 'All versions of the workflow.', resolve: (conn) => conn.totalCount }),
        }),
      },
      { name: 'WorkflowVersionEdge', description: 'A workflow version and its cursor.' },
    ),
    instances: t.connection(
      {
        type: WorkflowInstance,
        description:
          'Instances in the upstream order (newest first), optionally filtered. `first`/`last` at most 100 (default 20); ' +
          'list fields (status, dates, version, trigger) cost no extra request. Paging forward with `first` and ' +
          "`after: <a page's endCursor>` follows the upstream list cursor, so instances created meanwhile neither " +
          'repeat nor shift rows; other cursors are offsets.',
        args: {
          status: t.arg({ type: InstanceStatusEnum, description: 'Only instances in this status.' }),
          createdAfter: t.arg({ type: 'DateTime', description: 'Only instances created at or after this time.' }),
          createdBefore: t.arg({ type: 'DateTime', description: 'Only instances created at or before this time.' }),
        },
        resolve: (ref, args, ctx) =>
          ref.started?.instances.get(connectionKey(args)) ?? instancesConnection(ctx, ref.name, args),
      },
      {
        name: 'WorkflowInstanceConnection',
        description: 'A page of workflow instances.',
        fields: (c) => ({
          totalCount: c.int({
            description: 'All instances that match the filters.',
            resolve: (conn) => conn.totalCount,
          }),
        }),
      },
      { name: 'WorkflowInstanceEdge', description: 'A workflow instance and its cursor.' },
    ),
    instance: t.field({
      type: WorkflowInstance,
      nullable: true,
      description: 'One instance of this workflow by id; null when it does not exist.',
      args: { id: t.arg.string({ required: true, description: 'The instance id.' }) },
      resolve: (ref, args, ctx, info) => lookupInstance(ctx, ref.name, checkInstanceId(args.id), info),
    }),
  }),
});

builder.queryFields((t) => ({
  workflows: t.connection(
    {
      type: Workflow,
      description: 'Workflows of the account, optionally filtered by name. `first` at most 100 (default 20).',
      args: { search: t.arg.string({ description: 'Only workflows whose name matches this text.' }) },
      resolve: async (_root, args, ctx) => {
        const search = args.search ?? undefined;
        if (search !== undefined && (search.length < 1 || search.length > 64)) {
          throw badUserInput('`search` must be 1 to 64 characters', { argument: 'search' });
        }
        const connection = await resolveOffsetConnection(args, {
          fingerprint: connectionFingerprint('workflows', search),
          defaultSize: DEFAULT_PAGE_SIZE,
          read: (page, perPage) => ctx.loaders.listWorkflows({ page, perPage, ...(search ? { search } : {}) }),
        });
        return {
          ...connection,
          edges: connection.edges.map((e) => ({ cursor: e.cursor, node: { name: e.node.name } })),
        };
      },
    },
    {
      name: 'WorkflowConnection',
      description: 'A page of workflows.',
      fields: (c) => ({
        totalCount: c.int({ description: 'All workflows that match the search.', resolve: (conn) => conn.totalCount }),
      }),
    },
    { name: 'WorkflowEdge', description: 'A workflow and its cursor.' },
  ),
  workflow: t.field({
    type: Workflow,
    nullable: true,
    description: 'One workflow by name; null when it does not exist.',
    args: { name: t.arg.string({ required: true, description: 'The workflow name.' }) },
    resolve: (_root, args, ctx, info) => lookupWorkflow(ctx, checkWorkflowName(args.name, 'name'), info),
  }),
}));
