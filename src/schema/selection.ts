import {
  getNamedType,
  isObjectType,
  Kind,
  type FragmentDefinitionNode,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';
import { collectFields, type FieldGroup } from '../cost/collect.js';

export type { FieldGroup } from '../cost/collect.js';

/**
 * Whether any of `sets` selects `fieldName`, directly or through any fragment (type conditions are not
 * checked: asking for a little too much beats a second round trip).
 */
export function selectsFieldIn(
  sets: readonly SelectionSetNode[],
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
  fieldName: string,
): boolean {
  const seen = new Set<string>();
  const visit = (set: SelectionSetNode | undefined): boolean =>
    set?.selections.some((selection) => {
      switch (selection.kind) {
        case Kind.FIELD:
          return selection.name.value === fieldName;
        case Kind.INLINE_FRAGMENT:
          return visit(selection.selectionSet);
        case Kind.FRAGMENT_SPREAD: {
          const name = selection.name.value;
          if (seen.has(name)) return false;
          seen.add(name);
          return visit(fragments[name]?.selectionSet);
        }
        default:
          return false;
      }
    }) ?? false;
  return sets.some(visit);
}

/**
 * Whether the object returned by the current field has `fieldName` selected (see {@link selectsFieldIn}).
 * Used to fetch instance details with the step log up front when `steps` will be asked for.
 */
export function selectsField(info: GraphQLResolveInfo, fieldName: string): boolean {
  return selectsFieldIn(selectionSetsOf(info), info.fragments, fieldName);
}

/**
 * The fields that will be resolved on the object the current field returns, as graphql-js will run them:
 * fragments and `@skip`/`@include` applied, selections of the same field with the same arguments merged,
 * arguments coerced with the operation's variables (`args: null` when they are refused, so that field
 * fails without running). Introspection fields are left out. Empty unless the current field returns an
 * object type. Lets a parent start its children's upstream calls early.
 */
export function childFields(info: GraphQLResolveInfo): FieldGroup[] {
  const type = getNamedType(info.returnType);
  if (!isObjectType(type)) return [];
  const fragments = new Map(Object.entries(info.fragments));
  return collectFields({ schema: info.schema, fragments, variables: info.variableValues }, type, selectionSetsOf(info));
}

/** The sub-selections of every node of the current field (aliases and fragments can select it more than once). */
function selectionSetsOf(info: GraphQLResolveInfo): SelectionSetNode[] {
  const sets: SelectionSetNode[] = [];
  for (const node of info.fieldNodes) if (node.selectionSet) sets.push(node.selectionSet);
  return sets;
}
