import type { Context } from '../context.js';
import type { WorkflowVersion as VersionInfo } from '../upstream/types.js';
import { builder } from './builder.js';
import { vanished } from './upstream-errors.js';
import { splitCompositeId } from './ids.js';
import { Workflow } from './workflow.js';

/** Backing shape of WorkflowVersion: a key; data comes through ctx.loaders (lists prime them). */
export interface VersionRef {
  readonly workflowName: string;
  readonly versionId: string;
}

export const WorkflowVersion = builder.objectRef<VersionRef>('WorkflowVersion');

async function load(ctx: Context, ref: VersionRef): Promise<VersionInfo> {
  const found = await ctx.loaders.version(ref.workflowName, ref.versionId);
  if (!found) {
    throw vanished(`Version ${ref.versionId} of workflow ${JSON.stringify(ref.workflowName)}`);
  }
  return found;
}

builder.node(WorkflowVersion, {
  description: 'One deployed version of a workflow: the class and settings its instances run with.',
  id: {
    description: 'Opaque global id (from the workflow name and version id).',
    resolve: (ref) => `${ref.workflowName}/${ref.versionId}`,
    parse: (id) => {
      const { workflowName, rest } = splitCompositeId(id, 'WorkflowVersion');
      return { workflowName, versionId: rest };
    },
  },
  loadOne: async (key, ctx) => ((await ctx.loaders.version(key.workflowName, key.versionId)) ? key : null),
  fields: (t) => ({
    versionId: t.exposeString('versionId', { description: "Cloudflare's version id (a uuid)." }),
    workflow: t.field({
      type: Workflow,
      description: 'The workflow this is a version of.',
      resolve: (ref) => ({ name: ref.workflowName }),
    }),
    className: t.string({
      description: 'The exported workflow class.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).className,
    }),
    language: t.string({
      description: '`javascript` or `python`.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).language,
    }),
    hasDag: t.boolean({
      description: 'Whether Cloudflare derived a step graph for it.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).hasDag,
    }),
    createdOn: t.field({
      type: 'DateTime',
      description: 'When it was deployed.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).createdOn,
    }),
    modifiedOn: t.field({
      type: 'DateTime',
      description: 'When it last changed.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).modifiedOn,
    }),
    concurrencyLimit: t.int({
      nullable: true,
      description: 'Most instances that may run at once; null when unlimited (the account limit applies).',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).concurrencyLimit,
    }),
    stepLimit: t.int({
      nullable: true,
      description: 'Most steps one instance may run; null for the default.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).stepLimit,
    }),
    successRetentionMs: t.float({
      nullable: true,
      description: 'How long state of complete instances is kept, in milliseconds; null for the default.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).successRetentionMs,
    }),
    errorRetentionMs: t.float({
      nullable: true,
      description: 'How long state of errored instances is kept, in milliseconds; null for the default.',
      resolve: async (ref, _a, ctx) => (await load(ctx, ref)).errorRetentionMs,
    }),
    graph: t.field({
      type: 'JSON',
      nullable: true,
      description:
        "The version's step graph as Cloudflare describes it (one extra request, only when selected); null when unknown.",
      resolve: (ref, _a, ctx) => ctx.loaders.versionGraph(ref.workflowName, ref.versionId),
    }),
  }),
});
