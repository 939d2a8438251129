/**
 * The one walker over selections: everything that inspects what an operation selects (the cost estimate,
 * prefetching, instance lookups, subscriptions) collects fields here, so fragments, aliases and
 * `@skip`/`@include` are handled the same way everywhere, and the same way graphql-js executes them.
 */
import {
  getArgumentValues,
  getDirectiveValues,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isAbstractType,
  Kind,
  typeFromAST,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type InlineFragmentNode,
  type SelectionSetNode,
} from 'graphql';
import { sourceOf } from './field-source.js';
import type { Operation, Selection } from './operation.js';

/**
 * One field of an object type as the resolvers see it: every selection of the same field with the same
 * arguments (aliases, fragments) merged, because they reach the same loader keys and share requests.
 */
export interface FieldGroup {
  readonly name: string;
  /** Response name of the first selection, for messages. */
  readonly responseName: string;
  readonly def: GraphQLField<unknown, unknown>;
  /** Coerced arguments; null when they are refused, so the field fails before its resolver runs. */
  readonly args: Readonly<Record<string, unknown>> | null;
  /** Sub-selections of every merged selection. */
  readonly selectionSets: readonly SelectionSetNode[];
}

function included(
  node: FieldNode | InlineFragmentNode | { directives?: FieldNode['directives'] },
  variables: Record<string, unknown>,
): boolean {
  try {
    const skip = getDirectiveValues(GraphQLSkipDirective, node, variables);
    if (skip?.['if'] === true) return false;
    const include = getDirectiveValues(GraphQLIncludeDirective, node, variables);
    return include?.['if'] !== false;
  } catch {
    // A bad `if` fails the operation before anything runs; counting the selection stays an upper bound.
    return true;
  }
}

function conditionMatches(
  op: Operation,
  condition: FragmentDefinitionNode['typeCondition'] | undefined,
  type: GraphQLObjectType,
): boolean {
  if (!condition) return true;
  const conditionType = typeFromAST(op.schema, condition);
  if (!conditionType) return false;
  if (conditionType === type) return true;
  return isAbstractType(conditionType) && op.schema.isSubType(conditionType, type);
}

function resolveArgs(
  def: GraphQLField<unknown, unknown>,
  node: FieldNode,
  variables: Record<string, unknown>,
): Record<string, unknown> | null {
  try {
    return getArgumentValues(def, node, variables);
  } catch {
    return null;
  }
}

/**
 * Selections of the same field merge when their arguments agree on what is fetched; arguments that only
 * change how a result is shown (declared as `presentationArgs` on the field's source) do not count.
 */
function mergeKey(def: GraphQLField<unknown, unknown>, args: Record<string, unknown> | null): string {
  const name = def.name;
  if (args === null) return `${name}\u0000invalid`;
  const source = sourceOf(def);
  const ignored = source?.kind === 'steps' ? source.presentationArgs : [];
  const relevant = Object.entries(args).filter(([key]) => !ignored.includes(key));
  return `${name}\u0000${JSON.stringify(relevant)}`;
}

/**
 * The fields selected on an object of `type` by any of `selectionSets`, following fragments and inline
 * fragments whose type condition applies and honouring `@skip`/`@include`. Introspection fields
 * (`__typename`, `__schema`, `__type`) are left out: they never reach the upstream.
 */
export function collectFields(
  op: Operation,
  type: GraphQLObjectType,
  selectionSets: readonly SelectionSetNode[],
): FieldGroup[] {
  const groups = new Map<string, { group: FieldGroup; sets: SelectionSetNode[]; seen: Set<FieldNode> }>();
  const fields = type.getFields();
  const visitedFragments = new Set<string>();

  const visit = (set: SelectionSetNode): void => {
    for (const selection of set.selections) {
      if (!included(selection, op.variables)) continue;
      switch (selection.kind) {
        case Kind.FIELD: {
          const name = selection.name.value;
          const def = fields[name];
          if (name.startsWith('__') || !def) break;
          const args = resolveArgs(def, selection, op.variables);
          const key = mergeKey(def, args);
          let entry = groups.get(key);
          if (!entry) {
            const sets: SelectionSetNode[] = [];
            entry = {
              group: { name, responseName: selection.alias?.value ?? name, def, args, selectionSets: sets },
              sets,
              seen: new Set(),
            };
            groups.set(key, entry);
          }
          // The same field node reached twice (a fragment spread in two places) adds nothing new.
          if (!entry.seen.has(selection)) {
            entry.seen.add(selection);
            if (selection.selectionSet) entry.sets.push(selection.selectionSet);
          }
          break;
        }
        case Kind.INLINE_FRAGMENT:
          if (conditionMatches(op, selection.typeCondition, type)) visit(selection.selectionSet);
          break;
        case Kind.FRAGMENT_SPREAD: {
          const name = selection.name.value;
          const fragment = op.fragments.get(name);
          if (visitedFragments.has(name) || !fragment) break;
          visitedFragments.add(name);
          if (conditionMatches(op, fragment.typeCondition, type)) visit(fragment.selectionSet);
          break;
        }
      }
    }
  };
  for (const set of selectionSets) visit(set);
  return [...groups.values()].map((entry) => entry.group);
}

const operations = new WeakMap<object, Map<unknown, Operation>>();

/**
 * The operation a resolver runs in, as the walker needs it. Built once per operation and variables object:
 * graphql-js hands every resolver of one execution the same `operation` and `variableValues`.
 */
function operationOf(info: GraphQLResolveInfo): Operation {
  let byVariables = operations.get(info.operation);
  if (!byVariables) {
    byVariables = new Map();
    operations.set(info.operation, byVariables);
  }
  let op = byVariables.get(info.variableValues);
  if (!op) {
    op = { schema: info.schema, fragments: new Map(Object.entries(info.fragments)), variables: info.variableValues };
    // One entry per execution of a cached document: keep only the latest, the others are done.
    byVariables.clear();
    byVariables.set(info.variableValues, op);
  }
  return op;
}

/** The selection of the current field: its sub-selections in every node (aliases and fragments can repeat it). */
export function selectionOf(info: GraphQLResolveInfo): Selection {
  const sets: SelectionSetNode[] = [];
  for (const node of info.fieldNodes) if (node.selectionSet) sets.push(node.selectionSet);
  return { op: operationOf(info), sets };
}

/**
 * The fields a selection will resolve on an object of `type`, as graphql-js will run them (see
 * {@link collectFields}). Lets a parent start its children's upstream calls early, and a lookup fetch what
 * the selection needs in one request.
 */
export function fieldsOf(selection: Selection, type: GraphQLObjectType): FieldGroup[] {
  return collectFields(selection.op, type, selection.sets);
}
