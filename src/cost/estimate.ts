import { decodeGlobalID } from '@pothos/plugin-relay';
import {
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isAbstractType,
  isListType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { entityOf, instanceNeeds, sourceOf, workflowFieldRole, type FieldSource } from '../graphql/field-source.js';
import type { Operation } from '../graphql/operation.js';
import { collectFields, type FieldGroup } from '../graphql/selection.js';
import { checkPageArgs, type ConnectionArgs } from '../graphql/pagination.js';
import { federationEntityOf, keyOfRepresentation, parseNodeKey } from '../schema/entity-keys.js';
import { MAX_NODE_IDS, MAX_REPRESENTATIONS } from '../schema/ids.js';
import { Tally, type CostDriver } from './tally.js';

export type { CostDriver } from './tally.js';

/** The estimate of one operation. */
export interface CostEstimate {
  /** Upstream requests the operation may need at most (see {@link estimateCost} for the rules). */
  readonly cost: number;
  /** Where the requests come from, costliest first. */
  readonly drivers: readonly CostDriver[];
  /**
   * True when the operation has more selections than the estimator walks ({@link MAX_SELECTIONS}): `cost`
   * is then only what the walked part needs, and the operation should be refused.
   */
  readonly truncated: boolean;
}

/** Field selections (after merging) the estimator walks before it gives up on an operation. */
export const MAX_SELECTIONS = 20_000;

/** Steps assumed per instance: the step log's length is unknown before it is fetched. */
const STEPS_PER_INSTANCE = 10;

interface InstanceKey {
  readonly workflowName: string;
  readonly instanceId: string;
}

/** What is already known about the objects at a position of the operation, which decides what their fields cost. */
type Slot =
  | { readonly kind: 'root' }
  | { readonly kind: 'other'; readonly listSize?: number }
  | { readonly kind: 'workflow'; readonly name?: string; readonly loaded: boolean }
  /** `known`: what this operation already holds for the instance when its fields resolve. */
  | { readonly kind: 'instance'; readonly key?: InstanceKey; readonly known: 'details' | 'row' | 'none' }
  | { readonly kind: 'version'; readonly workflowName?: string; readonly versionId?: string; readonly loaded: boolean }
  /** `name`: the steps were selected by their logged name (`steps(name:)`). */
  | { readonly kind: 'step'; readonly instance?: InstanceKey; readonly name?: string }
  | { readonly kind: 'connection'; readonly item: Slot; readonly size: number }
  | { readonly kind: 'event'; readonly instance: Slot };

const OTHER: Slot = { kind: 'other' };

class TooLarge extends Error {}

const keyOf = (...parts: string[]): string => parts.join('\u0000');
const isString = (value: unknown): value is string => typeof value === 'string';

/** The name of the workflow the object at `slot` belongs to, when the operation names it. */
function workflowNameOf(slot: Slot): string | undefined {
  switch (slot.kind) {
    case 'workflow':
      return slot.name;
    case 'instance':
      return slot.key?.workflowName;
    case 'version':
      return slot.workflowName;
    default:
      return undefined;
  }
}

/**
 * What identifies the object at `slot` among objects of its kind, so that requests about the same object
 * count once; undefined when the operation does not name it (then each occurrence counts).
 */
function entityKey(slot: Slot): string | undefined {
  switch (slot.kind) {
    case 'root':
      return '';
    case 'workflow':
      return slot.name;
    case 'instance':
      return slot.key && keyOf(slot.key.workflowName, slot.key.instanceId);
    case 'version':
      return slot.workflowName !== undefined && slot.versionId !== undefined
        ? keyOf(slot.workflowName, slot.versionId)
        : undefined;
    default:
      return undefined;
  }
}

/** What the operation holds of the instance at `slot`. */
const knownOf = (slot: Slot): 'details' | 'row' | 'none' => (slot.kind === 'instance' ? slot.known : 'none');

/**
 * Upstream page requests one connection field needs: 1 for a first page; up to 2 after a cursor (the
 * window may straddle two upstream pages); up to 3 for `last` without `before` (the total first).
 */
function listRequests(args: { after?: unknown; before?: unknown; last?: unknown }): number {
  if (args.last != null && args.before == null) return 3;
  if (args.after != null || args.before != null) return 2;
  return 1;
}

/**
 * Items a connection field returns at most: `first` or `last`, else the field's default page size.
 * Undefined when the arguments are refused before any request (out of range, or both given).
 */
function pageSize(args: Readonly<Record<string, unknown>>, defaultSize: number): number | undefined {
  try {
    const { first, last } = checkPageArgs(args as ConnectionArgs);
    return first ?? last ?? defaultSize;
  } catch {
    return undefined;
  }
}

/**
 * Estimates how many Workflows API requests an operation needs at most, before running it. Returns
 * `undefined` when the operation cannot run at all (no such operation, bad variables): execution then
 * reports the error without any request.
 *
 * Every field is priced by the source it declares (`graphql/field-source.ts`), as the resolvers and the
 * per-operation loaders behave:
 * - `lookup`, `node`, each id of `nodes`, each representation of `_entities`: one request, which answers all
 *   of the object's fields; except that `workflow(name)` makes no request of its own when only its key and
 *   fields that start requests of their own (connections, `latestVersion`, `instance`) are selected: those
 *   requests tell whether it exists. Lookups of the same workflow or instance named by arguments or variables
 *   count once; an instance that needs both a simple and a full (`steps`) fetch counts twice, as the two may be
 *   made in different passes.
 * - `list`: one page request (two after a cursor, three for `last` without `before`); its items come with
 *   their list rows, and each item is multiplied by the page size (`first`/`last`, else the field's default;
 *   `nodes` and `edges.node` are the same items).
 * - `row`, `details`, `steps`: an instance costs one details request when any of its `details` or `steps`
 *   fields is selected, or a `row` field where no list row is at hand (an instance returned by a mutation).
 * - `steps` are assumed to be {@link STEPS_PER_INSTANCE} per instance; `stepOutput` costs one request per
 *   step. `steps(name:)` selects the entries logged under one name: each output field under it costs one request
 *   per instance, whichever kinds of step share the name. `request` costs one per entity; `record` one per entity whose record is not at hand (a version
 *   reached from an instance, a workflow reached from an instance or a version).
 * - `write`: one request (a batch: one per `batch.size` items) plus what the returned instances select, or,
 *   for a write that looks the instance up when it is refused (`lookupOnRefusal`), that lookup if it costs
 *   more: a refusal answers an error, so the two never both happen. The extra lookups of the rare recovery
 *   path of a lost answer are not counted.
 * - `watch`: priced for one event: the poll that feeds it, plus the event's selection.
 * - Introspection costs nothing; `@skip`/`@include` are honoured; selections of the same field with the
 *   same arguments (aliases, fragments) are merged, as they share loader keys.
 *
 * The result is an upper bound for the selections it walks, except that real step logs may be longer
 * than assumed. Aliases of different objects that turn out to be the same are counted separately.
 */
export function estimateCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  options: { variables?: Readonly<Record<string, unknown>> | null; operationName?: string | null } = {},
): CostEstimate | undefined {
  const operation = getOperationAST(document, options.operationName ?? undefined);
  if (!operation) return undefined;
  const root = schema.getRootType(operation.operation);
  if (!root) return undefined;
  // The same error limit as execution's: each error prints the value it refuses.
  const coerced = getVariableValues(
    schema,
    operation.variableDefinitions ?? [],
    { ...options.variables },
    {
      maxErrors: 50,
    },
  );
  if (coerced.errors) return undefined;

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const walker = new Walker({ schema, fragments, variables: coerced.coerced });
  const tally = new Tally();
  let truncated = false;
  try {
    walker.object(root, [operation.selectionSet], { kind: 'root' }, 1, '', tally);
  } catch (error) {
    if (!(error instanceof TooLarge)) throw error;
    truncated = true;
  }
  return { cost: Math.ceil(tally.total), drivers: tally.drivers(), truncated };
}

/** One field being priced: where it is, what it is, and how many objects it is selected on. */
interface Visit {
  readonly group: FieldGroup;
  readonly args: Readonly<Record<string, unknown>>;
  readonly slot: Slot;
  readonly mult: number;
  readonly path: string;
  readonly tally: Tally;
}

class Walker {
  private walked = 0;

  constructor(private readonly op: Operation) {}

  /** Prices the selections on a value of `type` (any output type); abstract types take their costliest member. */
  select(
    type: GraphQLOutputType | GraphQLNamedType,
    sets: readonly SelectionSetNode[],
    slot: Slot,
    mult: number,
    path: string,
    tally: Tally,
  ): void {
    const named = getNamedType(type);
    if (sets.length === 0 || mult <= 0) return;
    if (isObjectType(named)) {
      this.object(named, sets, slot, mult, path, tally);
      return;
    }
    if (!isAbstractType(named)) return;
    const members = this.op.schema.getPossibleTypes(named);
    if (slot.kind === 'step' && slot.name !== undefined) {
      // One logged name may be a `do` step (and its rollback) and a `waitForEvent` step at once: the counter in a
      // name counts per kind of step (docs/upstream-contract.md, 3.4). Every member is priced, each at most once.
      for (const member of members) this.object(member, sets, slot, mult, path, tally);
      return;
    }
    // A value is one of the members: the costliest member bounds what the selection needs.
    let costliest: Tally | undefined;
    for (const member of members) {
      const fork = new Tally();
      this.object(member, sets, slot, mult, path, fork);
      if (!costliest || fork.total > costliest.total) costliest = fork;
    }
    if (costliest) tally.absorb(costliest);
  }

  object(
    type: GraphQLObjectType,
    sets: readonly SelectionSetNode[],
    slot: Slot,
    mult: number,
    path: string,
    tally: Tally,
  ): void {
    const groups = collectFields(this.op, type, sets);
    this.walked += groups.length;
    if (this.walked > MAX_SELECTIONS) throw new TooLarge();
    const at = (group: FieldGroup): string => (path ? `${path}.${group.responseName}` : group.responseName);
    if (slot.kind === 'connection') {
      this.connection(groups, slot, mult, path, at, tally);
      return;
    }
    // Every field of one instance asks in the same execution pass, so one details request answers them all.
    let needsDetails: string | undefined;
    for (const group of groups) {
      // Refused arguments fail the field before its resolver runs.
      if (group.args === null) continue;
      const visit: Visit = { group, args: group.args, slot, mult, path: at(group), tally };
      if (this.field(visit, sourceOf(group.def))) needsDetails ??= visit.path;
    }
    if (needsDetails !== undefined) tally.charge(needsDetails, mult);
  }

  /** Prices one field by its declared source; true when it needs the details of the instance it is on. */
  private field(visit: Visit, source: FieldSource | undefined): boolean {
    const { group, args, slot, mult, path, tally } = visit;
    const children = (child: Slot, times = 1): void =>
      this.select(group.def.type, group.selectionSets, child, mult * times, path, tally);
    /** Charges `cost` requests per object at `slot`, once per named object. */
    const chargePerObject = (cost: number, ...what: string[]): void => {
      const key = entityKey(slot);
      if (key === undefined) tally.charge(path, cost * mult);
      else tally.charge(path, cost, keyOf(...what, key));
    };
    switch (source?.kind) {
      case undefined: {
        // A field of a value type, carried by its parent (or a root field that declares nothing: one request).
        if (slot.kind === 'root') tally.charge(path, 1);
        const many = isListType(getNullableType(group.def.type)) && slot.kind === 'other' ? (slot.listSize ?? 1) : 1;
        children(OTHER, many);
        return false;
      }
      case 'key':
        children(OTHER);
        return false;
      case 'subject':
        children(slot.kind === 'event' ? slot.instance : OTHER);
        return false;
      case 'record':
        if (!((slot.kind === 'workflow' || slot.kind === 'version') && slot.loaded)) {
          chargePerObject(1, slot.kind === 'workflow' || slot.kind === 'version' ? slot.kind : 'record');
        }
        children(OTHER);
        return false;
      case 'row':
        children(OTHER);
        return knownOf(slot) === 'none';
      case 'details':
        children(OTHER);
        return knownOf(slot) !== 'details';
      case 'steps': {
        const name = isString(args['name']) ? args['name'] : undefined;
        children(
          {
            kind: 'step',
            ...(slot.kind === 'instance' && slot.key ? { instance: slot.key } : {}),
            ...(name === undefined ? {} : { name }),
          },
          name === undefined ? STEPS_PER_INSTANCE : 1,
        );
        return knownOf(slot) !== 'details';
      }
      case 'stepOutput': {
        const instance = slot.kind === 'step' ? slot.instance : undefined;
        const name = slot.kind === 'step' ? slot.name : undefined;
        // One request per step, whichever output field: a step is of one type only. Under `steps(name:)`, one per
        // output field: the loader fetches a name's output once per kind of step.
        const key =
          instance &&
          (name === undefined
            ? keyOf('stepOutputs', instance.workflowName, instance.instanceId)
            : keyOf('stepOutput', instance.workflowName, instance.instanceId, name, group.name));
        tally.charge(path, mult, key);
        children(OTHER);
        return false;
      }
      case 'reference': {
        const workflowName = workflowNameOf(slot);
        const inWorkflow = workflowName === undefined ? {} : { workflowName };
        children(
          source.to === 'workflow'
            ? { kind: 'workflow', ...(workflowName === undefined ? {} : { name: workflowName }), loaded: false }
            : { kind: 'version', ...inWorkflow, loaded: false },
        );
        return source.needs === 'row' && knownOf(slot) === 'none';
      }
      case 'request': {
        chargePerObject(1, group.name);
        const workflowName = workflowNameOf(slot);
        children(
          source.returns === 'version'
            ? { kind: 'version', ...(workflowName === undefined ? {} : { workflowName }), loaded: true }
            : OTHER,
        );
        return false;
      }
      case 'list': {
        const size = pageSize(args, source.defaultSize);
        if (size === undefined) return false;
        chargePerObject(listRequests(args), group.name, JSON.stringify(args));
        const workflowName = workflowNameOf(slot);
        const item: Slot =
          source.of === 'instance'
            ? { kind: 'instance', known: 'row' }
            : source.of === 'version'
              ? { kind: 'version', ...(workflowName === undefined ? {} : { workflowName }), loaded: true }
              : { kind: 'workflow', loaded: true };
        children({ kind: 'connection', item, size });
        return false;
      }
      case 'lookup':
        this.lookup(visit, source);
        return false;
      case 'node':
        if (isString(args['id'])) this.node(group, args['id'], path, tally);
        return false;
      case 'nodes': {
        const ids = args['ids'];
        // More ids than MAX_NODE_IDS are refused before any request.
        if (Array.isArray(ids) && ids.length <= MAX_NODE_IDS)
          for (const id of ids) if (isString(id)) this.node(group, id, path, tally);
        return false;
      }
      case 'entities':
        this.entities(group, args['representations'], path, tally);
        return false;
      case 'write': {
        if (!source.batch) {
          tally.charge(path, 1);
          const answer = new Tally();
          this.select(group.def.type, group.selectionSets, OTHER, mult, path, answer);
          if (source.lookupOnRefusal && answer.total < mult) tally.charge(path, mult);
          else tally.absorb(answer);
          return false;
        }
        const input = args[source.batch.input] as Record<string, unknown> | undefined;
        const items = input?.[source.batch.list];
        const count = Array.isArray(items) ? items.length : 0;
        if (count === 0) return false; // refused before any request
        tally.charge(path, Math.ceil(count / source.batch.size));
        children({ kind: 'other', listSize: count });
        return false;
      }
      case 'watch': {
        tally.charge(path, 1);
        const workflowName = args[source.args.workflowName];
        const instanceId = source.args.instanceId === undefined ? undefined : args[source.args.instanceId];
        const key = isString(workflowName) && isString(instanceId) ? { workflowName, instanceId } : undefined;
        // The poll of a single instance brings the details its events need; a workflow's list does not.
        const instance: Slot =
          source.feed === 'instance'
            ? { kind: 'instance', ...(key ? { key } : {}), known: 'details' }
            : { kind: 'instance', known: 'none' };
        children(entityOf(getNamedType(group.def.type)) === 'instance' ? instance : { kind: 'event', instance });
        return false;
      }
    }
  }

  private lookup(visit: Visit, source: Extract<FieldSource, { kind: 'lookup' }>): void {
    const { group, args, slot, mult, path, tally } = visit;
    const arg = (name: string | undefined): string | undefined => {
      const value = name === undefined ? undefined : args[name];
      return isString(value) ? value : undefined;
    };
    if (source.of === 'workflow') {
      const name = arg(source.args.name);
      if (this.needsWorkflowRecord(group)) {
        tally.charge(path, name === undefined ? mult : 1, name === undefined ? undefined : keyOf('workflow', name));
      }
      const workflow: Slot = { kind: 'workflow', ...(name === undefined ? {} : { name }), loaded: true };
      this.select(group.def.type, group.selectionSets, workflow, mult, path, tally);
      return;
    }
    const workflowName = source.args.workflowName === undefined ? workflowNameOf(slot) : arg(source.args.workflowName);
    const instanceId = arg(source.args.instanceId);
    const key = workflowName !== undefined && instanceId !== undefined ? { workflowName, instanceId } : undefined;
    this.lookupInstance(group, key, mult, path, tally);
  }

  /**
   * Whether `workflow(name)` fetches the workflow's record: when a field from the record is selected, or when
   * no selected field starts an upstream call of its own that can tell that the workflow exists (a connection
   * or lookup whose arguments are accepted). `schema/lookups.ts` decides the same way at run time.
   */
  private needsWorkflowRecord(group: FieldGroup): boolean {
    const type = getNamedType(group.def.type);
    if (!isObjectType(type)) return true;
    let probes = 0;
    for (const field of collectFields(this.op, type, group.selectionSets)) {
      if (field.args === null) continue;
      const source = sourceOf(field.def);
      const role = workflowFieldRole(source);
      if (role === 'record') return true;
      if (role === 'free') continue;
      if (source?.kind === 'list' && pageSize(field.args, source.defaultSize) === undefined) continue;
      probes++;
    }
    return probes === 0;
  }

  private connection(
    groups: readonly FieldGroup[],
    slot: Extract<Slot, { kind: 'connection' }>,
    mult: number,
    path: string,
    at: (g: FieldGroup) => string,
    tally: Tally,
  ): void {
    const itemSets: SelectionSetNode[] = [];
    let itemType: GraphQLOutputType | undefined;
    let itemPath: string | undefined;
    // Relay connections: the items are `nodes` and `edges.node`; the other fields are free.
    for (const group of groups) {
      if (group.name === 'nodes') {
        itemType = group.def.type;
        itemPath ??= at(group);
        itemSets.push(...group.selectionSets);
      } else if (group.name === 'edges') {
        const edge = getNamedType(group.def.type);
        if (!isObjectType(edge)) continue;
        for (const node of collectFields(this.op, edge, group.selectionSets)) {
          if (node.name !== 'node') continue;
          itemType = node.def.type;
          itemPath ??= `${at(group)}.node`;
          itemSets.push(...node.selectionSets);
        }
      }
    }
    // `nodes` and `edges.node` are the same objects: their selections are priced together, once.
    if (itemType) this.select(itemType, itemSets, slot.item, mult * slot.size, itemPath ?? path, tally);
  }

  /**
   * `node`/`nodes`: the id names the type and the key, so the lookup is priced exactly and shares keys with
   * other lookups.
   */
  private node(group: FieldGroup, globalId: string, path: string, tally: Tally): void {
    let key: unknown;
    let type: GraphQLNamedType | undefined;
    try {
      const decoded = decodeGlobalID(globalId);
      type = this.op.schema.getType(decoded.typename);
      key = parseNodeKey(type, decoded.id, {});
    } catch {
      return; // refused as BAD_USER_INPUT before any request
    }
    if (isObjectType(type) && typeof key === 'object' && key !== null) this.entity(group, type, key, path, tally);
  }

  /**
   * `_entities`: each representation names its type and key, and is priced like the lookup that resolves it (its
   * type's `asEntity` declaration, which `schema/subgraph.ts` runs), so identical representations, and the same
   * entity reached by `node` or `instance`, count once. A representation whose `__typename` or key fields are
   * refused before any request costs nothing; one refused later (a malformed name or id, or a workflow the
   * caller may not read) is charged, so the estimate is then too high, never too low.
   */
  private entities(group: FieldGroup, representations: unknown, path: string, tally: Tally): void {
    // More than MAX_REPRESENTATIONS are refused before any request.
    if (!Array.isArray(representations) || representations.length > MAX_REPRESENTATIONS) return;
    for (const representation of representations) {
      if (typeof representation !== 'object' || representation === null) continue;
      const typename = (representation as { __typename?: unknown }).__typename;
      const type = isString(typename) ? this.op.schema.getType(typename) : undefined;
      if (isObjectType(type)) this.entity(group, type, representation, path, tally);
    }
  }

  /**
   * One entity looked up by its key (by `node`, `nodes` or `_entities`): one request, then its fields. The key
   * fields are the type's `@key` (schema/entity-keys.ts); nothing is charged for a key `_entities` refuses.
   */
  private entity(group: FieldGroup, type: GraphQLObjectType, fields: object, path: string, tally: Tally): void {
    const entity = federationEntityOf(type);
    const read = entity && keyOfRepresentation(entity, fields as Readonly<Record<string, unknown>>);
    const kind = entityOf(type);
    if (!read || 'invalidField' in read || kind === undefined) return;
    if (kind === 'instance') {
      this.lookupInstance(group, read.key as unknown as InstanceKey, 1, path, tally, type);
      return;
    }
    // A workflow's key is its `name`, a version's its `workflowName` and `versionId`: the fields of their slots.
    const slot = { kind, ...read.key, loaded: true } as Slot;
    tally.charge(path, 1, keyOf(kind, entityKey(slot) ?? ''));
    this.object(type, group.selectionSets, slot, 1, path, tally);
  }

  /**
   * One instance lookup (`schema/lookups.ts`): one request, with the step log when a field that needs it is
   * selected; the instance's own fields are then free.
   */
  private lookupInstance(
    group: FieldGroup,
    key: InstanceKey | undefined,
    mult: number,
    path: string,
    tally: Tally,
    type: GraphQLOutputType = group.def.type,
  ): void {
    const instanceType = getNamedType(type);
    const full =
      isObjectType(instanceType) &&
      instanceNeeds(collectFields(this.op, instanceType, group.selectionSets)) === 'steps';
    if (key) tally.charge(path, 1, keyOf('instance', key.workflowName, key.instanceId, full ? 'full' : 'simple'));
    else tally.charge(path, mult);
    const slot: Slot = { kind: 'instance', ...(key ? { key } : {}), known: 'details' };
    this.select(type, group.selectionSets, slot, mult, path, tally);
  }
}
