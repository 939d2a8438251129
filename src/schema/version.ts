import type { Context } from '../context.js';
import { declareEntity, declareSource } from '../graphql/field-source.js';
import { authorizeRead } from './authorization.js';
import { builder } from './builder.js';
import { fromKey, fromVersionRecord } from './field-data.js';
import { checkVersionId, checkWorkflowName, representationPlace, splitCompositeId } from './ids.js';
import { Workflow, WorkflowVersion, type VersionRef } from './refs.js';

/** A version by its key, for `node(id:)` and `_entities`: null when it does not exist. */
async function loadVersion(key: VersionRef, ctx: Context): Promise<VersionRef | null> {
  authorizeRead(ctx, key.workflowName);
  return (await ctx.loaders.version(key.workflowName, key.versionId)) ? key : null;
}

builder.node(WorkflowVersion, {
  ...declareEntity('version'),
  description: 'One deployed version of a workflow: the class and settings its instances run with.',
  id: {
    ...fromKey,
    description: 'Opaque global id (from the workflow name and version id).',
    resolve: (ref) => `${ref.workflowName}/${ref.versionId}`,
    parse: (id) => {
      const { workflowName, rest } = splitCompositeId(id, 'WorkflowVersion');
      return { workflowName, versionId: checkVersionId(rest, 'id') };
    },
  },
  loadOne: loadVersion,
  fields: (t) => ({
    versionId: t.exposeString('versionId', { description: "Cloudflare's version id (a uuid).", ...fromKey }),
    workflowName: t.exposeString('workflowName', {
      description: 'Name of the workflow this is a version of (with `versionId`, its federation key).',
      ...fromKey,
    }),
    workflow: t.field({
      type: Workflow,
      description: 'The workflow this is a version of.',
      ...declareSource({ kind: 'reference', to: 'workflow', needs: 'key' }),
      resolve: (ref) => ({ name: ref.workflowName }),
    }),
    className: t.string({
      description: 'The exported workflow class.',
      ...fromVersionRecord((v) => v.className),
    }),
    language: t.string({
      description: '`javascript` or `python`.',
      ...fromVersionRecord((v) => v.language),
    }),
    hasDag: t.boolean({
      description: 'Whether Cloudflare derived a step graph for it.',
      ...fromVersionRecord((v) => v.hasDag),
    }),
    createdOn: t.field({
      type: 'DateTime',
      description: 'When it was deployed.',
      ...fromVersionRecord((v) => v.createdOn),
    }),
    modifiedOn: t.field({
      type: 'DateTime',
      description: 'When it last changed.',
      ...fromVersionRecord((v) => v.modifiedOn),
    }),
    concurrencyLimit: t.int({
      nullable: true,
      description: 'Most instances that may run at once; null when unlimited (the account limit applies).',
      ...fromVersionRecord((v) => v.concurrencyLimit),
    }),
    stepLimit: t.int({
      nullable: true,
      description: 'Most steps one instance may run; null for the default.',
      ...fromVersionRecord((v) => v.stepLimit),
    }),
    successRetentionMs: t.float({
      nullable: true,
      description: 'How long state of complete instances is kept, in milliseconds; null for the default.',
      ...fromVersionRecord((v) => v.successRetentionMs),
    }),
    errorRetentionMs: t.float({
      nullable: true,
      description: 'How long state of errored instances is kept, in milliseconds; null for the default.',
      ...fromVersionRecord((v) => v.errorRetentionMs),
    }),
    graph: t.field({
      type: 'JSON',
      nullable: true,
      description:
        "The version's step graph as Cloudflare describes it (one extra request, only when selected); null when unknown.",
      ...declareSource({ kind: 'request' }),
      resolve: (ref, _a, ctx) => {
        authorizeRead(ctx, ref.workflowName);
        return ctx.loaders.versionGraph(ref.workflowName, ref.versionId);
      },
    }),
  }),
});

// A version is identified by its workflow and its id (ids are per workflow upstream); resolved like `node(id:)`.
builder.asEntity(WorkflowVersion, {
  key: builder.selection<{ workflowName: string; versionId: string }>('workflowName versionId'),
  resolveReference: (key, ctx) =>
    loadVersion(
      {
        workflowName: checkWorkflowName(key.workflowName, representationPlace('workflowName')),
        versionId: checkVersionId(key.versionId, representationPlace('versionId')),
      },
      ctx,
    ),
});
