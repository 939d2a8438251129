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
  type GraphQLSchema,
  type InlineFragmentNode,
  type SelectionSetNode,
} from 'graphql';

/** What field collection needs from the operation. */
export interface Operation {
  readonly schema: GraphQLSchema;
  readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  /** Coerced variable values (defaults applied). */
  readonly variables: Readonly<Record<string, unknown>>;
}

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

/** Arguments that change how a result is shown but not what is fetched, so selections differing only there merge. */
const PRESENTATION_ARGS: Readonly<Record<string, readonly string[]>> = { steps: ['order'] };

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

function mergeKey(name: string, args: Record<string, unknown> | null): string {
  if (args === null) return `${name}\u0000invalid`;
  const ignored = PRESENTATION_ARGS[name] ?? [];
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
          const key = mergeKey(name, args);
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
