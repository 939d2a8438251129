import type { Context } from '../context.js';
import { INSTANCE_STATUSES, type InstanceStatus, type Workflow as WorkflowInfo } from '../upstream/types.js';
import { builder } from './builder.js';
import { checkInstanceId, checkWorkflowName } from './ids.js';
import { InstanceStatusEnum, lookupInstance, WorkflowInstance, type InstanceRef } from './instance.js';
import { connectionFingerprint, resolveOffsetConnection } from './pagination.js';
import { badUserInput, vanished } from './upstream-errors.js';
import { WorkflowVersion, type VersionRef } from './version.js';

/** Backing shape of Workflow: its name; data comes through ctx.loaders (the workflow list primes them). */
export interface WorkflowRef {
  readonly name: string;
}

export const Workflow = builder.objectRef<WorkflowRef>('Workflow');

const DEFAULT_PAGE_SIZE = 20;

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

const WorkflowSchedule = builder
  .objectRef<WorkflowInfo['schedules'][number]>('WorkflowSchedule')
  .implement({
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
    workflowId: t.string({ description: "Cloudflare's id of the workflow (a uuid).", resolve: async (ref, _a, ctx) => (await load(ctx, ref)).id }),
    className: t.string({ description: 'The exported workflow class.', resolve: async (ref, _a, ctx) => (await load(ctx, ref)).className }),
    scriptName: t.string({ description: 'The Worker script holding the class.', resolve: async (ref, _a, ctx) => (await load(ctx, ref)).scriptName }),
    createdOn: t.field({ type: 'DateTime', description: 'When the workflow was created.', resolve: async (ref, _a, ctx) => (await load(ctx, ref)).createdOn }),
    modifiedOn: t.field({ type: 'DateTime', description: 'When it last changed.', resolve: async (ref, _a, ctx) => (await load(ctx, ref)).modifiedOn }),
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
        resolve: async (ref, args, ctx) => {
          const connection = await resolveOffsetConnection(args, {
            fingerprint: connectionFingerprint('versions', ref.name),
            defaultSize: DEFAULT_PAGE_SIZE,
            read: (page, perPage) => ctx.loaders.listVersions(ref.name, { page, perPage }),
          });
          return {
            ...connection,
            edges: connection.edges.map((e) => ({ cursor: e.cursor, node: { workflowName: ref.name, versionId: e.node.id } })),
          };
        },
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
          'list fields (status, dates, version, trigger) cost no extra request.',
        args: {
          status: t.arg({ type: InstanceStatusEnum, description: 'Only instances in this status.' }),
          createdAfter: t.arg({ type: 'DateTime', description: 'Only instances created at or after this time.' }),
          createdBefore: t.arg({ type: 'DateTime', description: 'Only instances created at or before this time.' }),
        },
        resolve: async (ref, args, ctx) => {
          checkDateRange(args.createdAfter, args.createdBefore);
          const filters = {
            ...(args.status ? { status: args.status } : {}),
            ...(args.createdAfter ? { dateStart: args.createdAfter } : {}),
            ...(args.createdBefore ? { dateEnd: args.createdBefore } : {}),
          };
          const connection = await resolveOffsetConnection(args, {
            fingerprint: connectionFingerprint(
              'instances',
              ref.name,
              args.status,
              args.createdAfter?.toISOString(),
              args.createdBefore?.toISOString(),
            ),
            defaultSize: DEFAULT_PAGE_SIZE,
            read: (page, perPage) => ctx.loaders.listInstances(ref.name, { ...filters, page, perPage }),
          });
          return {
            ...connection,
            edges: connection.edges.map((e) => ({
              cursor: e.cursor,
              node: { workflowName: ref.name, instanceId: e.node.id } satisfies InstanceRef,
            })),
          };
        },
      },
      {
        name: 'WorkflowInstanceConnection',
        description: 'A page of workflow instances.',
        fields: (c) => ({
          totalCount: c.int({ description: 'All instances that match the filters.', resolve: (conn) => conn.totalCount }),
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
        return { ...connection, edges: connection.edges.map((e) => ({ cursor: e.cursor, node: { name: e.node.name } })) };
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
    resolve: async (_root, args, ctx) => {
      const name = checkWorkflowName(args.name, 'name');
      return (await ctx.loaders.workflow(name)) ? { name } : null;
    },
  }),
}));
