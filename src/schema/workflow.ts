import type { Context } from '../context.js';
import { declareEntity, declareSource } from '../graphql/field-source.js';
import { selectionOf } from '../graphql/selection.js';
import { MAX_PAGE_SIZE } from '../upstream/limits.js';
import { INSTANCE_STATUSES, type InstanceStatus, type Workflow as WorkflowInfo } from '../upstream/types.js';
import { authorizeRead } from './authorization.js';
import { workflowAllowed, type Principal } from '../auth/principal.js';
import { builder } from './builder.js';
import { fromKey, fromWorkflowRecord, prefetchable } from './field-data.js';
import { checkInstanceId, checkWorkflowName, representationPlace } from './ids.js';
import { InstanceStatusEnum } from './instance.js';
import { lookupInstance, lookupWorkflow } from './lookups.js';
import {
  connectionFingerprint,
  DEFAULT_PAGE_SIZE,
  resolveOffsetConnection,
  type ConnectionArgs,
  type OffsetConnection,
  type PageReader,
} from '../graphql/pagination.js';
import {
  Workflow,
  WorkflowInstance,
  WorkflowVersion,
  type InstanceRef,
  type VersionRef,
  type WorkflowRef,
} from './refs.js';
import { badUserInput } from '../errors/coded-error.js';

/** Upstream pages of 100 workflows read at most to list the workflows an allowlist permits. */
const MAX_ALLOWLIST_SCAN_PAGES = 10;

/**
 * The workflow list as a principal with a workflow allowlist sees it: the upstream list cannot filter by
 * names or globs, so the whole list (up to {@link MAX_ALLOWLIST_SCAN_PAGES} pages of 100) is read once per
 * operation, filtered, and paged here; `totalCount` counts the allowed workflows only.
 */
function allowedOnly(read: PageReader<WorkflowInfo>, principal: Principal): PageReader<WorkflowInfo> {
  let allowed: Promise<WorkflowInfo[]> | undefined;
  const readAll = async (): Promise<WorkflowInfo[]> => {
    const found: WorkflowInfo[] = [];
    for (let page = 1; page <= MAX_ALLOWLIST_SCAN_PAGES; page++) {
      const { items, info } = await read(page, MAX_PAGE_SIZE);
      found.push(...items.filter((workflow) => workflowAllowed(principal, workflow.name)));
      if (items.length < MAX_PAGE_SIZE || page * MAX_PAGE_SIZE >= info.totalCount) break;
    }
    return found;
  };
  return async (page, perPage) => {
    const all = await (allowed ??= readAll());
    const items = all.slice((page - 1) * perPage, page * perPage);
    const totalPages = Math.ceil(all.length / perPage);
    return { items, info: { count: items.length, perPage, totalCount: all.length, page, totalPages, cursor: null } };
  };
}

/** How big a page may be, as the connections' descriptions say it. */
const PAGE_SIZES = `\`first\`/\`last\` at most ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})`;

type InstanceConnection = OffsetConnection<InstanceRef>;
type VersionConnection = OffsetConnection<VersionRef>;

interface InstancesArgs extends ConnectionArgs {
  readonly status?: InstanceStatus | null;
  readonly createdAfter?: Date | null;
  readonly createdBefore?: Date | null;
}

/**
 * The instance list's own order (newest first), said out loud on cursor requests: `direction` only
 * means something next to a cursor (docs/upstream-contract.md §1.3), so its default there need not be the page order.
 */
const INSTANCE_LIST_DIRECTION = 'desc';

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

/** A workflow by name, for `node(id:)` and `_entities`: null when it does not exist. */
async function loadWorkflow({ name }: { name: string }, ctx: Context): Promise<WorkflowRef | null> {
  authorizeRead(ctx, name);
  return (await ctx.loaders.workflow(name)) ? { name } : null;
}

builder.node(Workflow, {
  ...declareEntity('workflow'),
  description: 'A workflow: a Worker class whose `run()` Cloudflare executes as durable instances.',
  id: {
    ...fromKey,
    description: 'Opaque global id (from the workflow name).',
    resolve: (ref) => ref.name,
    // The key, as `_entities` names it: the cost estimate prices `node(id:)` from it.
    parse: (id) => ({ name: checkWorkflowName(id, 'id') }),
  },
  loadOne: loadWorkflow,
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The workflow name, unique in the account.', ...fromKey }),
    workflowId: t.string({
      description: "Cloudflare's id of the workflow (a uuid).",
      ...fromWorkflowRecord((w) => w.id),
    }),
    className: t.string({
      description: 'The exported workflow class.',
      ...fromWorkflowRecord((w) => w.className),
    }),
    scriptName: t.string({
      description: 'The Worker script holding the class.',
      ...fromWorkflowRecord((w) => w.scriptName),
    }),
    createdOn: t.field({
      type: 'DateTime',
      description: 'When the workflow was created.',
      ...fromWorkflowRecord((w) => w.createdOn),
    }),
    modifiedOn: t.field({
      type: 'DateTime',
      description: 'When it last changed.',
      ...fromWorkflowRecord((w) => w.modifiedOn),
    }),
    triggeredOn: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When an instance was last created; null if never.',
      ...fromWorkflowRecord((w) => w.triggeredOn),
    }),
    scriptDeleted: t.boolean({
      description: 'True when the bound Worker was deleted and the workflow is inactive.',
      ...fromWorkflowRecord((w) => w.scriptDeleted),
    }),
    instanceCounts: t.field({
      type: InstanceCounts,
      description: 'Instances per status, as counted by Cloudflare.',
      ...fromWorkflowRecord((w) => w.instanceCounts),
    }),
    schedules: t.field({
      type: [WorkflowSchedule],
      description: 'Cron triggers; empty when there are none.',
      ...fromWorkflowRecord((w) => w.schedules),
    }),
    latestVersion: t.field({
      type: WorkflowVersion,
      nullable: true,
      description: 'The newest version; null when none is deployed.',
      ...prefetchable(
        { kind: 'request', returns: 'version' },
        async (ref: WorkflowRef, _args: unknown, ctx): Promise<VersionRef | null> => {
          const latest = await ctx.loaders.latestVersion(ref.name);
          return latest ? { workflowName: ref.name, versionId: latest.id } : null;
        },
      ),
    }),
    versions: t.connection(
      {
        type: WorkflowVersion,
        description: `Versions, newest first. ${PAGE_SIZES}.`,
        ...prefetchable(
          { kind: 'list', of: 'version', defaultSize: DEFAULT_PAGE_SIZE },
          (ref: WorkflowRef, args: ConnectionArgs, ctx) => versionsConnection(ctx, ref.name, args),
        ),
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
          `Instances in the upstream order (newest first), optionally filtered. ${PAGE_SIZES}; ` +
          'list fields (status, dates, version, trigger) cost no extra request. Paging forward with `first` and ' +
          "`after: <a page's endCursor>` follows the upstream list cursor, so instances created meanwhile neither " +
          'repeat nor shift rows; other cursors are offsets.',
        args: {
          status: t.arg({ type: InstanceStatusEnum, description: 'Only instances in this status.' }),
          createdAfter: t.arg({ type: 'DateTime', description: 'Only instances created at or after this time.' }),
          createdBefore: t.arg({ type: 'DateTime', description: 'Only instances created at or before this time.' }),
        },
        ...prefetchable(
          { kind: 'list', of: 'instance', defaultSize: DEFAULT_PAGE_SIZE },
          (ref: WorkflowRef, args: InstancesArgs, ctx) => instancesConnection(ctx, ref.name, args),
        ),
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
      args: { instanceId: t.arg.string({ required: true, description: 'The instance id.' }) },
      ...prefetchable(
        { kind: 'lookup', of: 'instance', args: { instanceId: 'instanceId' } },
        async (ref: WorkflowRef, args: { instanceId: string }, ctx, selection) =>
          lookupInstance(ctx, ref.name, checkInstanceId(args.instanceId, 'instanceId'), selection),
      ),
    }),
  }),
});

// Referenced by name from other subgraphs; resolved like `node(id:)`, from the workflow's record.
builder.asEntity(Workflow, {
  key: builder.selection<{ name: string }>('name'),
  resolveReference: (key, ctx) => loadWorkflow({ name: checkWorkflowName(key.name, representationPlace('name')) }, ctx),
});

builder.queryFields((t) => ({
  workflows: t.connection(
    {
      type: Workflow,
      description: `Workflows of the account, optionally filtered by name. \`first\` at most ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).`,
      args: { search: t.arg.string({ description: 'Only workflows whose name matches this text.' }) },
      ...declareSource({ kind: 'list', of: 'workflow', defaultSize: DEFAULT_PAGE_SIZE }),
      resolve: async (_root, args, ctx) => {
        authorizeRead(ctx);
        const search = args.search ?? undefined;
        if (search !== undefined && (search.length < 1 || search.length > 64)) {
          throw badUserInput('`search` must be 1 to 64 characters', { argument: 'search' });
        }
        const read: PageReader<WorkflowInfo> = (page, perPage) =>
          ctx.loaders.listWorkflows({ page, perPage, ...(search ? { search } : {}) });
        const connection = await resolveOffsetConnection(args, {
          fingerprint: connectionFingerprint('workflows', search, ...(ctx.principal.workflows ?? [])),
          defaultSize: DEFAULT_PAGE_SIZE,
          read: ctx.principal.workflows === null ? read : allowedOnly(read, ctx.principal),
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
    ...declareSource({ kind: 'lookup', of: 'workflow', args: { name: 'name' } }),
    resolve: (_root, args, ctx, info) => {
      const name = checkWorkflowName(args.name, 'name');
      authorizeRead(ctx, name);
      return lookupWorkflow(ctx, name, selectionOf(info));
    },
  }),
}));
