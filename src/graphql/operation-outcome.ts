/**
 * How an operation ended, one vocabulary for the `outcome` label of `wfgql_graphql_operations_total`
 * (src/metrics/graphql.ts) and the `outcome` field of the operation log line (src/logging/operation-log.ts):
 * - `rejected`: refused before it ran (trusted documents, parse, validation, document limits, the subscriptions of
 *   a connection, variables, cost): no `data`;
 * - `error`: it ran, and its result carries errors;
 * - `success`: it ran without errors.
 */
export type OperationOutcome = 'success' | 'error' | 'rejected';

/** The outcome of an operation from its result (a subscription's: from its first result). */
export function outcomeOf(result: {
  readonly data?: unknown;
  readonly errors?: readonly unknown[] | undefined;
}): OperationOutcome {
  if (result.data === undefined) return 'rejected';
  return result.errors !== undefined && result.errors.length > 0 ? 'error' : 'success';
}
