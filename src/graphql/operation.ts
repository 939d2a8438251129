import type { FragmentDefinitionNode, GraphQLSchema, SelectionSetNode } from 'graphql';

/** What field collection needs from the operation. */
export interface Operation {
  readonly schema: GraphQLSchema;
  readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>;
  /** Coerced variable values (defaults applied). */
  readonly variables: Readonly<Record<string, unknown>>;
}

/** A position in an operation: the sub-selections of one (merged) field. */
export interface Selection {
  readonly op: Operation;
  readonly sets: readonly SelectionSetNode[];
}
