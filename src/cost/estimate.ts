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
import { splitCompositeId } from '../identifiers.js';
import { BATCH_SIZE } from '../mutations/create.js';
import { collectFields, type FieldGroup, type Operation } from './collect.js';
import {
  CONNECTION_TYPES,
  INSTANCE_FIELDS,
  listRequests,
  MUTATION_FIELDS,
  pageSize,
  QUERY_FIELDS,
  STEP_OUTPUT_FIELDS,
  STEP_TYPES,
  STEPS_PER_INSTANCE,
  SUBSCRIPTION_FIELDS,
  VERSION_FIELDS,
  WORKFLOW_FIELDS,
} from './rules.js';
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

interface InstanceKey {
  readonly workflowName: string;
  readonly instanceId: string;
}

/** What is already known about the objects at a position of the operation, which decides what their fields cost. */
type Slot =
  | { readonly kind: 'other'; readonly listSize?: number }
  | { readonly kind: 'workflow'; readonly name?: string; readonly loaded: boolean }
  /** `known`: what this operation already holds for the instance when its fields resolve. */
  | { readonly kind: 'instance'; readonly key?: InstanceKey; readonly known: 'details' | 'summary' | 'none' }
  | { readonly kind: 'version'; readonly workflowName?: string; readonly versionId?: string; readonly loaded: boolean }
  | { readonly kind: 'step'; readonly instance?: InstanceKey }
  | { readonly kind: 'connection'; readonly item: Slot; readonly size: number }
  | { readonly kind: 'event'; readonly instance: Slot };

const OTHER: Slot = { kind: 'other' };

class TooLarge extends Error {}

const keyOf = (...parts: string[]): string => parts.join('\u0000');
const isString = (value: unknown): value is string => typeof value === 'string';

/**
 * Estimates how many Workflows API requests an operation needs at most, before running it. Returns
 * `undefined` when the operation cannot run at all (no such operation, bad variables): execution then
 * reports the error without any request.
 *
 * The rules follow the resolvers and the per-operation loaders:
 * - A workflow, instance or version lookup (`workflow`, `instance`, `node`, each id of `nodes`,
 *   `Workflow.instance`) is one request, and that request answers all of the object's fields; except
 *   that `workflow(name)` makes no request of its own when only its name, id and fields with their own
 *   requests (connections, `latestVersion`, `instance`) are selected: those requests tell whether it exists. Lookups of
 *   the same workflow or instance named by arguments or variables count once; an instance that needs
 *   both a simple and a full (`steps`) fetch counts twice, as the two may be made in different passes.
 * - A connection (`workflows`, `Workflow.instances`, `Workflow.versions`) is one page request (two after
 *   a cursor, three for `last` without `before`); its items come with their list fields, and each item
 *   is multiplied by the page size (`first`/`last`, default 20; `nodes` and `edges.node` are the same items).
 * - An instance from a list costs one details request when any details field or `steps` is selected;
 *   an instance returned by a mutation costs one for any field beyond its key.
 * - `steps` are assumed to be {@link STEPS_PER_INSTANCE} per instance; `DoStep.output` and
 *   `WaitForEventStep.payload` cost one request per step. `latestVersion` and `WorkflowVersion.graph` cost
 *   one; version fields of `WorkflowInstance.version` one per instance; workflow fields reached from an
 *   instance or a version one per workflow.
 * - Mutations: one request (`createInstances`: one per 100 instances) plus what the returned instances
 *   select. The extra lookups of rare recovery paths (a lost answer, a refused change) are not counted.
 * - Subscriptions are priced for one event: the poll that feeds them, plus the event's selection.
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
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], { ...options.variables });
  if (coerced.errors) return undefined;

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const walker = new Walker({ schema, fragments, variables: coerced.coerced });
  const tally = new Tally();
  let truncated = false;
  try {
    walker.object(root, [operation.selectionSet], OTHER, 1, '', tally);
  } catch (error) {
    if (!(error instanceof TooLarge)) throw error;
    truncated = true;
  }
  return { cost: Math.ceil(tally.total), drivers: tally.drivers(), truncated };
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
    // A value is one of the members: the costliest member bounds what the selection needs.
    let costliest: Tally | undefined;
    for (const member of this.op.schema.getPossibleTypes(named)) {
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
    const name = type.name;
    if (name === this.op.schema.getQueryType()?.name) {
      for (const group of groups) this.queryField(group, at(group), tally);
    } else if (name === this.op.schema.getMutationType()?.name) {
      for (const group of groups) this.mutationField(group, at(group), tally);
    } else if (name === this.op.schema.getSubscriptionType()?.name) {
      for (const group of groups) this.subscriptionField(group, at(group), tally);
    } else if (name === 'Workflow') {
      this.workflow(groups, slot.kind === 'workflow' ? slot : { kind: 'workflow', loaded: false }, mult, at, tally);
    } else if (name === 'WorkflowInstance') {
      this.instance(groups, slot.kind === 'instance' ? slot : { kind: 'instance', known: 'none' }, mult, at, tally);
    } else if (name === 'WorkflowVersion') {
      this.version(groups, slot.kind === 'version' ? slot : { kind: 'version', loaded: false }, mult, at, tally);
    } else if ((STEP_TYPES as readonly string[]).includes(name)) {
      this.step(name, groups, slot.kind === 'step' ? slot : { kind: 'step' }, mult, at, tally);
    } else if ((CONNECTION_TYPES as readonly string[]).includes(name)) {
      this.connection(groups, slot, mult, path, at, tally);
    } else {
      this.plain(groups, slot, mult, at, tally);
    }
  }

  /** Types that hold no domain object of their own: free fields; nested objects priced as they are reached. */
  private plain(
    groups: readonly FieldGroup[],
    slot: Slot,
    mult: number,
    at: (g: FieldGroup) => string,
    tally: Tally,
  ): void {
    for (const group of groups) {
      let child: Slot = OTHER;
      if (slot.kind === 'event' && group.name === 'instance') child = slot.instance;
      const many = isListType(getNullableType(group.def.type)) && slot.kind === 'other' ? (slot.listSize ?? 1) : 1;
      this.select(group.def.type, group.selectionSets, child, mult * many, at(group), tally);
    }
  }

  private connection(
    groups: readonly FieldGroup[],
    slot: Slot,
    mult: number,
    path: string,
    at: (g: FieldGroup) => string,
    tally: Tally,
  ): void {
    // Reached other than through a priced field (not in today's schema): assume a full page of unknown items.
    const { item, size } = slot.kind === 'connection' ? slot : { item: OTHER, size: 100 };
    const itemSets: SelectionSetNode[] = [];
    let itemType: GraphQLOutputType | undefined;
    let itemPath: string | undefined;
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
    if (itemType) this.select(itemType, itemSets, item, mult * size, itemPath ?? path, tally);
  }

  private queryField(group: FieldGroup, path: string, tally: Tally): void {
    const rule = QUERY_FIELDS[group.name as keyof typeof QUERY_FIELDS] as string | undefined;
    const args = group.args;
    if (args === null) return;
    switch (rule) {
      case 'workflowLookup': {
        const name = isString(args['name']) ? args['name'] : undefined;
        if (this.needsWorkflowRecord(group))
          tally.charge(path, 1, name === undefined ? undefined : keyOf('workflow', name));
        this.select(
          group.def.type,
          group.selectionSets,
          { kind: 'workflow', ...(name === undefined ? {} : { name }), loaded: true },
          1,
          path,
          tally,
        );
        return;
      }
      case 'workflowList': {
        const size = pageSize(args);
        if (size === undefined) return;
        tally.charge(path, listRequests(args), keyOf('workflows', JSON.stringify(args)));
        const item: Slot = { kind: 'workflow', loaded: true };
        this.select(group.def.type, group.selectionSets, { kind: 'connection', item, size }, 1, path, tally);
        return;
      }
      case 'instanceLookup': {
        const { workflowName, id } = args;
        const key = isString(workflowName) && isString(id) ? { workflowName, instanceId: id } : undefined;
        this.lookupInstance(group, key, 1, path, tally);
        return;
      }
      case 'node':
        if (isString(args['id'])) this.node(group, args['id'], path, tally);
        return;
      case 'nodes': {
        const ids = args['ids'];
        if (!Array.isArray(ids)) return;
        ids.forEach((id) => {
          if (isString(id)) this.node(group, id, path, tally);
        });
        return;
      }
      default:
        // A root field the rules do not know: assume one request, and price what it returns as if fetched.
        tally.charge(path, 1);
        this.select(group.def.type, group.selectionSets, OTHER, 1, path, tally);
    }
  }

  /**
   * Whether `workflow(name)` fetches the workflow's record: when a data field is selected, or when no
   * selected field makes an upstream call of its own that can tell that the workflow exists (a connection
   * or lookup whose arguments are accepted).
   */
  private needsWorkflowRecord(group: FieldGroup): boolean {
    const type = this.op.schema.getType('Workflow');
    if (!isObjectType(type)) return true;
    let probes = 0;
    for (const field of collectFields(this.op, type, group.selectionSets)) {
      const rule = (WORKFLOW_FIELDS[field.name as keyof typeof WORKFLOW_FIELDS] as string | undefined) ?? 'data';
      if (field.args === null || rule === 'free') continue;
      if (rule === 'data') return true;
      if ((rule === 'instanceList' || rule === 'versionList') && pageSize(field.args) === undefined) continue;
      probes++;
    }
    return probes === 0;
  }

  /** `node`/`nodes`: the id names the type and the key, so the lookup is priced exactly and shares keys with other lookups. */
  private node(group: FieldGroup, globalId: string, path: string, tally: Tally): void {
    let decoded: { typename: string; id: string };
    try {
      decoded = decodeGlobalID(globalId);
    } catch {
      return; // refused as BAD_USER_INPUT before any request
    }
    const type = this.op.schema.getType(decoded.typename);
    if (!isObjectType(type)) return;
    const { workflowName, rest } = splitCompositeId(decoded.id) ?? {};
    switch (type.name) {
      case 'Workflow':
        tally.charge(path, 1, keyOf('workflow', decoded.id));
        this.object(type, group.selectionSets, { kind: 'workflow', name: decoded.id, loaded: true }, 1, path, tally);
        return;
      case 'WorkflowInstance':
        if (workflowName === undefined || !rest) return;
        this.lookupInstance(group, { workflowName, instanceId: rest }, 1, path, tally, type);
        return;
      case 'WorkflowVersion':
        if (workflowName === undefined || !rest) return;
        tally.charge(path, 1, keyOf('version', workflowName, rest));
        this.object(
          type,
          group.selectionSets,
          { kind: 'version', workflowName, versionId: rest, loaded: true },
          1,
          path,
          tally,
        );
        return;
      default:
        return;
    }
  }

  /**
   * One instance lookup (`lookupInstance` in the schema): one request, with the step log when `steps` is
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
    const instanceType = this.op.schema.getType('WorkflowInstance');
    const full =
      isObjectType(instanceType) &&
      collectFields(this.op, instanceType, group.selectionSets).some((g) => g.name === 'steps');
    if (key) tally.charge(path, 1, keyOf('instance', key.workflowName, key.instanceId, full ? 'full' : 'simple'));
    else tally.charge(path, mult);
    const slot: Slot = { kind: 'instance', ...(key ? { key } : {}), known: 'details' };
    this.select(type, group.selectionSets, slot, mult, path, tally);
  }

  private mutationField(group: FieldGroup, path: string, tally: Tally): void {
    const rule = MUTATION_FIELDS[group.name as keyof typeof MUTATION_FIELDS] as string | undefined;
    const args = group.args;
    if (args === null) return;
    if (rule === 'createBatch') {
      const input = args['input'] as { instances?: unknown } | undefined;
      const count = Array.isArray(input?.instances) ? input.instances.length : 0;
      if (count === 0) return; // refused before any request
      tally.charge(path, Math.ceil(count / BATCH_SIZE));
      this.select(group.def.type, group.selectionSets, { kind: 'other', listSize: count }, 1, path, tally);
      return;
    }
    // `create`, `change`, and mutations the rules do not know yet: one request, then the payload.
    tally.charge(path, 1);
    this.select(group.def.type, group.selectionSets, OTHER, 1, path, tally);
  }

  private subscriptionField(group: FieldGroup, path: string, tally: Tally): void {
    const rule = SUBSCRIPTION_FIELDS[group.name as keyof typeof SUBSCRIPTION_FIELDS] as string | undefined;
    const args = group.args;
    if (args === null) return;
    tally.charge(path, 1);
    const { workflowName, instanceId } = args;
    const key = isString(workflowName) && isString(instanceId) ? { workflowName, instanceId } : undefined;
    // The poll of a single instance brings the details its events need; a workflow's list does not.
    const instance: Slot =
      rule === 'instance'
        ? { kind: 'instance', ...(key ? { key } : {}), known: 'details' }
        : { kind: 'instance', known: 'none' };
    const slot: Slot =
      getNamedType(group.def.type).name === 'WorkflowInstance' ? instance : { kind: 'event', instance };
    this.select(group.def.type, group.selectionSets, slot, 1, path, tally);
  }

  private workflow(
    groups: readonly FieldGroup[],
    slot: Extract<Slot, { kind: 'workflow' }>,
    mult: number,
    at: (g: FieldGroup) => string,
    tally: Tally,
  ): void {
    const name = slot.name;
    const perName = (...parts: string[]): string | undefined => (name === undefined ? undefined : keyOf(...parts));
    for (const group of groups) {
      const rule = (WORKFLOW_FIELDS[group.name as keyof typeof WORKFLOW_FIELDS] as string | undefined) ?? 'data';
      const args = group.args;
      const path = at(group);
      if (args === null || rule === 'free') continue;
      switch (rule) {
        case 'data':
          if (!slot.loaded) {
            const key = perName('workflow', name ?? '');
            tally.charge(path, key ? 1 : mult, key);
          }
          this.select(group.def.type, group.selectionSets, OTHER, mult, path, tally);
          break;
        case 'latestVersion': {
          const key = perName('latestVersion', name ?? '');
          tally.charge(path, key ? 1 : mult, key);
          const version: Slot = {
            kind: 'version',
            ...(name === undefined ? {} : { workflowName: name }),
            loaded: true,
          };
          this.select(group.def.type, group.selectionSets, version, mult, path, tally);
          break;
        }
        case 'versionList':
        case 'instanceList': {
          const size = pageSize(args);
          if (size === undefined) break;
          const calls = listRequests(args);
          const key = perName(rule, name ?? '', JSON.stringify(args));
          tally.charge(path, key ? calls : calls * mult, key);
          const item: Slot =
            rule === 'versionList'
              ? { kind: 'version', ...(name === undefined ? {} : { workflowName: name }), loaded: true }
              : { kind: 'instance', known: 'summary' };
          this.select(group.def.type, group.selectionSets, { kind: 'connection', item, size }, mult, path, tally);
          break;
        }
        case 'instanceLookup': {
          const id = args['id'];
          const key = name !== undefined && isString(id) ? { workflowName: name, instanceId: id } : undefined;
          this.lookupInstance(group, key, mult, path, tally);
          break;
        }
      }
    }
  }

  private instance(
    groups: readonly FieldGroup[],
    slot: Extract<Slot, { kind: 'instance' }>,
    mult: number,
    at: (g: FieldGroup) => string,
    tally: Tally,
  ): void {
    // Every field of one instance asks in the same execution pass, so one details request answers them all.
    let needsDetails: string | undefined;
    for (const group of groups) {
      const rule = (INSTANCE_FIELDS[group.name as keyof typeof INSTANCE_FIELDS] as string | undefined) ?? 'details';
      const path = at(group);
      if (group.args === null || rule === 'free') continue;
      switch (rule) {
        case 'summary':
          if (slot.known === 'none') needsDetails ??= path;
          this.select(group.def.type, group.selectionSets, OTHER, mult, path, tally);
          break;
        case 'details':
        case 'steps': {
          if (slot.known !== 'details') needsDetails ??= path;
          const step: Slot = { kind: 'step', ...(slot.key ? { instance: slot.key } : {}) };
          const child = rule === 'steps' ? { slot: step, mult: mult * STEPS_PER_INSTANCE } : { slot: OTHER, mult };
          this.select(group.def.type, group.selectionSets, child.slot, child.mult, path, tally);
          break;
        }
        case 'workflow': {
          const workflow: Slot = {
            kind: 'workflow',
            ...(slot.key ? { name: slot.key.workflowName } : {}),
            loaded: false,
          };
          this.select(group.def.type, group.selectionSets, workflow, mult, path, tally);
          break;
        }
        case 'version': {
          if (slot.known === 'none') needsDetails ??= path;
          const version: Slot = {
            kind: 'version',
            ...(slot.key ? { workflowName: slot.key.workflowName } : {}),
            loaded: false,
          };
          this.select(group.def.type, group.selectionSets, version, mult, path, tally);
          break;
        }
      }
    }
    if (needsDetails !== undefined) tally.charge(needsDetails, mult);
  }

  private version(
    groups: readonly FieldGroup[],
    slot: Extract<Slot, { kind: 'version' }>,
    mult: number,
    at: (g: FieldGroup) => string,
    tally: Tally,
  ): void {
    const { workflowName, versionId } = slot;
    const key = (kind: string): string | undefined =>
      workflowName !== undefined && versionId !== undefined ? keyOf(kind, workflowName, versionId) : undefined;
    for (const group of groups) {
      const rule = (VERSION_FIELDS[group.name as keyof typeof VERSION_FIELDS] as string | undefined) ?? 'data';
      const path = at(group);
      if (group.args === null || rule === 'free') continue;
      if (rule === 'workflow') {
        const workflow: Slot = {
          kind: 'workflow',
          ...(workflowName === undefined ? {} : { name: workflowName }),
          loaded: false,
        };
        this.select(group.def.type, group.selectionSets, workflow, mult, path, tally);
        continue;
      }
      if (rule === 'graph' || !slot.loaded) {
        const k = key(rule);
        tally.charge(path, k ? 1 : mult, k);
      }
      this.select(group.def.type, group.selectionSets, OTHER, mult, path, tally);
    }
  }

  private step(
    typeName: string,
    groups: readonly FieldGroup[],
    slot: Extract<Slot, { kind: 'step' }>,
    mult: number,
    at: (g: FieldGroup) => string,
    tally: Tally,
  ): void {
    const outputs = STEP_OUTPUT_FIELDS[typeName] ?? {};
    for (const group of groups) {
      const path = at(group);
      if (group.args !== null && outputs[group.name] !== undefined) {
        // One request per step, whichever output field: a step is of one type only.
        const key = slot.instance
          ? keyOf('stepOutputs', slot.instance.workflowName, slot.instance.instanceId)
          : undefined;
        tally.charge(path, mult, key);
      }
      this.select(group.def.type, group.selectionSets, OTHER, mult, path, tally);
    }
  }
}
