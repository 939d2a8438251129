import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Whether the object returned by the current field has `fieldName` selected, directly or through any
 * fragment (type conditions are not checked: asking for a little too much beats a second round trip).
 * Used to fetch instance details with the step log up front when `steps` will be asked for.
 */
export function selectsField(info: GraphQLResolveInfo, fieldName: string): boolean {
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
          return visit(info.fragments[name]?.selectionSet);
        }
        default:
          return false;
      }
    }) ?? false;
  return info.fieldNodes.some((node) => visit(node.selectionSet));
}
