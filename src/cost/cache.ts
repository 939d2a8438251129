import { getOperationAST, Kind, type DocumentNode, type GraphQLSchema, type TypeNode } from 'graphql';
import { estimateCost, type CostEstimate } from './estimate.js';

/** Estimates kept per document (distinct page sizes, flags and key patterns); the oldest goes first. */
const MAX_ENTRIES_PER_DOCUMENT = 64;
/** Variables whose cache key would be longer than this (big mutation inputs) are estimated every time. */
const MAX_KEY_LENGTH = 2048;

const isPlainString = (type: TypeNode): boolean =>
  type.kind === Kind.NON_NULL_TYPE
    ? isPlainString(type.type)
    : type.kind === Kind.NAMED_TYPE && type.name.value === 'String';

/**
 * The variables with every `String` value replaced by a token naming its equality class (the first
 * distinct string is `\0s0`, the next `\0s1`, ...). `String` arguments (workflow names, instance ids,
 * search text) only ever matter to the estimate through equality (two lookups of the same key count
 * once), so operations that differ only in such values share one estimate. A token never equals a
 * literal of the document, so a variable that happens to repeat a literal is counted apart: the
 * estimate can only grow, never drop below the uncached one's bound. Other types (`ID`, which encodes a
 * type name, numbers, booleans, enums, dates, input objects) are kept as they are.
 */
function normalise(
  document: DocumentNode,
  operationName: string | null,
  variables: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const operation = getOperationAST(document, operationName ?? undefined);
  const out: Record<string, unknown> = { ...variables };
  if (!operation?.variableDefinitions) return out;
  const classes = new Map<string, string>();
  for (const definition of operation.variableDefinitions) {
    const name = definition.variable.name.value;
    const value = out[name];
    if (typeof value !== 'string' || !isPlainString(definition.type)) continue;
    let token = classes.get(value);
    if (token === undefined) {
      token = `\u0000s${classes.size}`;
      classes.set(value, token);
    }
    out[name] = token;
  }
  return out;
}

/** Estimates an operation like {@link estimateCost}. */
export type CostEstimator = (
  schema: GraphQLSchema,
  document: DocumentNode,
  options: { variables: Readonly<Record<string, unknown>> | null; operationName: string | null },
) => CostEstimate | undefined;

/**
 * {@link estimateCost} with a cache per parsed document: yoga's parser cache hands out the same
 * `DocumentNode` for the same query text, so repeated operations are walked once per operation name and
 * distinct variables that matter (see `normalise`). Schemas and documents are held weakly; their
 * entries go with them.
 */
export function createCostCache(onLookup?: (hit: boolean) => void): CostEstimator {
  const bySchema = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Map<string, CostEstimate | undefined>>>();
  return (schema, document, { variables, operationName }) => {
    const normalised = normalise(document, operationName, variables ?? {});
    const key = `${operationName ?? ''}\u0000${JSON.stringify(normalised)}`;
    if (key.length > MAX_KEY_LENGTH) {
      onLookup?.(false);
      return estimateCost(schema, document, { variables: normalised, operationName });
    }
    let documents = bySchema.get(schema);
    if (!documents) {
      documents = new WeakMap();
      bySchema.set(schema, documents);
    }
    let entries = documents.get(document);
    if (!entries) {
      entries = new Map();
      documents.set(document, entries);
    }
    const hit = entries.has(key);
    onLookup?.(hit);
    if (hit) return entries.get(key);
    const estimate = estimateCost(schema, document, { variables: normalised, operationName });
    if (entries.size >= MAX_ENTRIES_PER_DOCUMENT) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
    entries.set(key, estimate);
    return estimate;
  };
}
