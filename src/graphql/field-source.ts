import { isObjectType, type GraphQLField, type GraphQLNamedType } from 'graphql';
import type { Selection } from './operation.js';

/**
 * Where a field's data comes from, declared once on the field (in Pothos `extensions`) and read back from the
 * built schema by everything that must know what a selection will cost before it runs: the cost estimate
 * (`cost/estimate.ts`), `Query.workflow`'s prefetch and instance lookups (`schema/lookups.ts`), and the
 * subscriptions' "needs instance details" (`schema/subscription.ts`). A new field is one declaration.
 *
 * The kinds, from the cheapest:
 * - `key`: never a request: the object's key, a value its parent holds, or what a list row brought if any
 *   (`WorkflowInstance.modifiedOn`, which no other endpoint reports).
 * - `subject`: the entity an event carries (`InstanceStatusEvent.instance`), with what its feed fetched.
 * - `record`: the entity's own record (a workflow's or a version's): free where a list, lookup or node fetch
 *   brought it, one request per entity otherwise.
 * - `row`: an instance field the list row answers; otherwise the instance's details do.
 * - `details`: the instance's details (`simple=true`), one request shared by all such fields of the instance.
 * - `steps`: the instance's full details with the step log; the field's items are steps.
 * - `stepOutput`: one request per step for its full output.
 * - `reference`: another entity named by this one's key (`version` first needs the list row for its id).
 * - `request`: a request of its own per entity (`latestVersion`, `graph`).
 * - `list`: a connection over an upstream list.
 * - `lookup`: one entity by key arguments (`Query.instance`, `Workflow.instance`, `Query.workflow`).
 * - `node`, `nodes`: lookups by global id.
 * - `entities`: federation's `_entities`: lookups by the keys of the representations a gateway sends.
 * - `write`: a mutation: one request, or for a batch one per `batch.size` items of the list `input.list`;
 *   `lookupOnRefusal`: a refusal makes one more request to say why, and answers an error instead of the payload.
 * - `watch`: a subscription fed by polling one instance or one workflow's list.
 */
export type FieldSource =
  | { readonly kind: 'key' }
  | { readonly kind: 'subject' }
  | { readonly kind: 'record' }
  | { readonly kind: 'row' }
  | { readonly kind: 'details' }
  | { readonly kind: 'steps'; readonly presentationArgs: readonly string[] }
  | { readonly kind: 'stepOutput' }
  | { readonly kind: 'reference'; readonly to: 'workflow' | 'version'; readonly needs: 'key' | 'row' }
  | { readonly kind: 'request'; readonly returns?: 'version'; readonly start?: Prefetch }
  | { readonly kind: 'list'; readonly of: EntityKind; readonly defaultSize: number; readonly start?: Prefetch }
  | {
      readonly kind: 'lookup';
      readonly of: 'workflow' | 'instance';
      /** Argument names holding the key; a part missing here comes from the parent entity's key. */
      readonly args: { readonly name?: string; readonly workflowName?: string; readonly instanceId?: string };
      readonly start?: Prefetch;
    }
  | { readonly kind: 'node' }
  | { readonly kind: 'nodes' }
  | { readonly kind: 'entities' }
  | {
      readonly kind: 'write';
      readonly batch?: { readonly input: string; readonly list: string; readonly size: number };
      readonly lookupOnRefusal?: boolean;
    }
  | {
      readonly kind: 'watch';
      readonly feed: 'instance' | 'workflow';
      /** Argument names holding the watched thing's key. */
      readonly args: { readonly workflowName: string; readonly instanceId?: string };
    };

export type EntityKind = 'workflow' | 'instance' | 'version';

/**
 * Starts a field's upstream work ahead of its resolver (see `schema/lookups.ts`): called with the parent
 * value, the field's coerced arguments and its selection; the resolver then takes the same promise.
 */
export type Prefetch = (
  parent: unknown,
  args: Readonly<Record<string, unknown>>,
  context: unknown,
  selection: Selection,
) => Promise<unknown>;

/* eslint-disable @typescript-eslint/no-explicit-any -- the type parameters must repeat graphql's own */
declare module 'graphql' {
  interface GraphQLFieldExtensions<_TSource, _TContext, _TArgs = any> {
    /** Where the field's data comes from (see {@link FieldSource}). */
    readonly fieldSource?: FieldSource;
  }
  interface GraphQLObjectTypeExtensions<_TSource = any, _TContext = any> {
    /** Which upstream entity the type's objects are. */
    readonly entity?: EntityKind;
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * Field options that declare `source`: spread into a Pothos field's options. It sets the field's whole
 * `extensions`, so a field that needs other extensions merges them into this object.
 */
export const declareSource = (source: FieldSource): { extensions: { readonly fieldSource: FieldSource } } => ({
  extensions: { fieldSource: source },
});

/** The source a field declares, or undefined (a field of a plain value type, carried by its parent). */
export function sourceOf(field: Pick<GraphQLField<unknown, unknown>, 'extensions'>): FieldSource | undefined {
  return field.extensions.fieldSource;
}

/** The work a field's parent may start ahead of the field's resolver (see `schema/lookups.ts`), if any. */
export function startOf(source: FieldSource | undefined): Prefetch | undefined {
  return source !== undefined && 'start' in source ? source.start : undefined;
}

/**
 * What a selected field of a workflow means for `Query.workflow`, which fetches the workflow's record only
 * when it must (`schema/lookups.ts` at run time, `cost/estimate.ts` when pricing): `free` needs nothing;
 * `starts` makes an upstream call of its own that also tells whether the workflow exists, started at once;
 * `record` needs the workflow's own record.
 */
export function workflowFieldRole(source: FieldSource | undefined): 'free' | 'starts' | 'record' {
  if (source?.kind === 'key') return 'free';
  return startOf(source) === undefined ? 'record' : 'starts';
}

/** Type options that declare which upstream entity a type's objects are (used to price `node(id:)`). */
export const declareEntity = (entity: EntityKind): { extensions: { readonly entity: EntityKind } } => ({
  extensions: { entity },
});

/** The entity a type declares, or undefined for value types. */
export function entityOf(type: GraphQLNamedType): EntityKind | undefined {
  return isObjectType(type) ? type.extensions.entity : undefined;
}

/** How much of an instance a selection needs, weakest first (see {@link instanceNeeds}). */
export type InstanceNeed = 'key' | 'row' | 'details' | 'steps';

const NEED_OF: Readonly<Partial<Record<FieldSource['kind'], InstanceNeed>>> = {
  row: 'row',
  details: 'details',
  steps: 'steps',
  reference: 'row',
};
const RANK: Readonly<Record<InstanceNeed, number>> = { key: 0, row: 1, details: 2, steps: 3 };

/**
 * The most a selection on an instance needs: `steps` when a field declared `steps` is selected, `details`
 * for any other details field, `row` for fields a list row answers (and references to other entities),
 * `key` when every selected field answers from the key. Fields of the selection are collected as graphql-js
 * will run them (see {@link collectFields}).
 */
export function instanceNeeds(
  fields: readonly { readonly def: Pick<GraphQLField<unknown, unknown>, 'extensions'> }[],
): InstanceNeed {
  let need: InstanceNeed = 'key';
  for (const field of fields) {
    const source = sourceOf(field.def);
    const own = source ? (NEED_OF[source.kind] ?? 'key') : 'details';
    if (source?.kind === 'reference' && source.needs === 'key') continue;
    if (RANK[own] > RANK[need]) need = own;
  }
  return need;
}
