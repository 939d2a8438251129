/**
 * Field options that say where a field's data comes from and resolve it from there, in one expression:
 * `params: t.field({ type: 'JSON', description, ...fromInstanceDetails((d) => d.params) })`. The declaration
 * (see `graphql/field-source.ts`) is what the cost estimate, the prefetch and the subscriptions read, so a
 * resolver and its declared source cannot drift apart.
 */
import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context.js';
import { declareSource, type FieldSource } from '../graphql/field-source.js';
import type { Selection } from '../graphql/operation.js';
import { selectionOf } from '../graphql/selection.js';
import type {
  InstanceDetails,
  InstanceStatus,
  InstanceSummary,
  Workflow as WorkflowInfo,
  WorkflowVersion as VersionInfo,
} from '../upstream/types.js';
import { authorizeRead } from './authorization.js';
import type { InstanceRef, VersionRef, WorkflowRef } from './refs.js';
import { vanished } from '../errors/coded-error.js';

/** A field answered from the object's key (or a value the parent holds). */
export const fromKey = declareSource({ kind: 'key' });

/** Details of an instance, or a NOT_FOUND error when it vanished after being listed or referenced. */
async function instanceDetails(ctx: Context, ref: InstanceRef, full: boolean): Promise<InstanceDetails> {
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
function readDetails<T>(
  ctx: Context,
  ref: InstanceRef,
  read: (d: InstanceDetails) => T,
  full: boolean,
): T | Promise<T> {
  authorizeRead(ctx, ref.workflowName);
  const known = ctx.loaders.knownDetails(ref.workflowName, ref.instanceId);
  if (known && !(full && known.simple)) return read(known);
  return instanceDetails(ctx, ref, full).then(read);
}

/** A field that the list row answers: details already at hand win, then the row, then a `simple` fetch. */
function readRow<T>(
  ctx: Context,
  ref: InstanceRef,
  fromDetails: (d: InstanceDetails) => T,
  fromRow: (s: InstanceSummary) => T,
): T | Promise<T> {
  authorizeRead(ctx, ref.workflowName);
  const known = ctx.loaders.knownDetails(ref.workflowName, ref.instanceId);
  if (known) return fromDetails(known);
  const row = ctx.loaders.summary(ref.workflowName, ref.instanceId);
  if (row) return fromRow(row);
  return instanceDetails(ctx, ref, false).then(fromDetails);
}

/** An instance field from its details (`simple=true`), shared by every such field of the instance. */
export function fromInstanceDetails<T>(read: (details: InstanceDetails) => T) {
  return {
    ...declareSource({ kind: 'details' }),
    resolve: (ref: InstanceRef, _args: unknown, ctx: Context) => readDetails(ctx, ref, read, false),
  };
}

/**
 * An instance field from its full details, with the step log. `order` only changes how the steps are shown,
 * so selections that differ in it share one fetch.
 */
export function fromInstanceSteps<T, A>(read: (details: InstanceDetails, ref: InstanceRef, args: A) => T) {
  return {
    ...declareSource({ kind: 'steps', presentationArgs: ['order'] }),
    resolve: (ref: InstanceRef, args: A, ctx: Context) => readDetails(ctx, ref, (d) => read(d, ref, args), true),
  };
}

/** An instance field that a list row answers as well as the details do. */
export function fromInstanceRow<T>(fromDetails: (details: InstanceDetails) => T, fromRow: (row: InstanceSummary) => T) {
  return {
    ...declareSource({ kind: 'row' }),
    resolve: (ref: InstanceRef, _args: unknown, ctx: Context) => readRow(ctx, ref, fromDetails, fromRow),
  };
}

/** A link from an instance to another entity whose key the list row (or the details) holds: its version. */
export function versionFromRow<K, T>(
  fromDetails: (details: InstanceDetails) => K,
  fromRow: (row: InstanceSummary) => K,
  link: (ref: InstanceRef, key: K) => T,
) {
  return {
    ...declareSource({ kind: 'reference', to: 'version', needs: 'row' }),
    resolve: async (ref: InstanceRef, _args: unknown, ctx: Context): Promise<T> =>
      link(ref, await readRow(ctx, ref, fromDetails, fromRow)),
  };
}

/** An instance field computed from its status, which a list row answers. */
export const fromInstanceStatus = <T>(compute: (status: InstanceStatus) => T) =>
  fromInstanceRow(
    (d) => compute(d.status),
    (s) => compute(s.status),
  );

/** A workflow field from the workflow's record. */
export function fromWorkflowRecord<T>(read: (workflow: WorkflowInfo) => T) {
  return {
    ...declareSource({ kind: 'record' }),
    resolve: async (ref: WorkflowRef, _args: unknown, ctx: Context): Promise<T> => {
      authorizeRead(ctx, ref.name);
      const found = await ctx.loaders.workflow(ref.name);
      if (!found) throw vanished(`Workflow ${JSON.stringify(ref.name)}`);
      return read(found);
    },
  };
}

/** A version field from the version's record. */
export function fromVersionRecord<T>(read: (version: VersionInfo) => T) {
  return {
    ...declareSource({ kind: 'record' }),
    resolve: async (ref: VersionRef, _args: unknown, ctx: Context): Promise<T> => {
      authorizeRead(ctx, ref.workflowName);
      const found = await ctx.loaders.version(ref.workflowName, ref.versionId);
      if (!found) throw vanished(`Version ${ref.versionId} of workflow ${JSON.stringify(ref.workflowName)}`);
      return read(found);
    },
  };
}

/** Identifies upstream work started for one field with given arguments (see {@link prefetchable}). */
export const startKey = (fieldName: string, args: unknown): string => `${fieldName}\u0000${JSON.stringify(args)}`;

/** The sources whose work a parent may start, without the start function {@link prefetchable} adds. */
type Prefetchable =
  Extract<FieldSource, { start?: unknown }> extends infer S ? (S extends unknown ? Omit<S, 'start'> : never) : never;

/**
 * A field whose upstream work its parent's lookup may start ahead of it (`Query.workflow` starts the
 * connections and lookups of the selected workflow fields at once: see `schema/lookups.ts`). The resolver
 * takes the promise the parent started for the same field and arguments, or does the work itself.
 */
export function prefetchable<
  P extends { readonly name: string; readonly started?: ReadonlyMap<string, Promise<unknown>> },
  A,
  T,
>(source: Prefetchable, load: (parent: P, args: A, ctx: Context, selection: Selection) => Promise<T>) {
  // The parent is a workflow: everything these fields read belongs to it.
  const guarded = async (parent: P, args: A, ctx: Context, selection: Selection): Promise<T> => {
    authorizeRead(ctx, parent.name);
    return load(parent, args, ctx, selection);
  };
  return {
    ...declareSource({
      ...source,
      // Async, so that a load that throws at once fails only its own field (`schema/lookups.ts` awaits them all).
      start: async (parent, args, ctx, selection) => guarded(parent as P, args as A, ctx as Context, selection),
    } as FieldSource),
    resolve: (parent: P, args: A, ctx: Context, info: GraphQLResolveInfo): Promise<T> =>
      (parent.started?.get(startKey(info.fieldName, args)) as Promise<T> | undefined) ??
      guarded(parent, args, ctx, selectionOf(info)),
  };
}
