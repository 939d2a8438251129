import type { ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { codedError } from '../errors/coded-error.js';
import { createCostCache, type CostEstimator } from './cache.js';
import type { CostEstimate } from './estimate.js';

/** Driving fields named in the message. */
const SHOWN_DRIVERS = 3;

const format = (n: number): string => n.toLocaleString('en-US');

/** The error that refuses an operation over the limit: `extensions: { code: 'QUERY_TOO_EXPENSIVE', cost, limit }`, and the costliest fields in the message. */
export function queryTooExpensive(estimate: CostEstimate, limit: number): GraphQLError {
  const drivers = estimate.drivers.slice(0, SHOWN_DRIVERS).map((d) => `${d.path} (${format(d.cost)})`);
  const cost = estimate.truncated
    ? `The operation is too large to estimate (more than ${format(estimate.cost)} upstream requests counted before giving up)`
    : `The operation would need up to ${format(estimate.cost)} requests to the Workflows API`;
  const message =
    `${cost}; the limit is ${format(limit)} per operation. ` +
    (drivers.length > 0 ? `Costliest fields: ${drivers.join(', ')}. ` : '') +
    'Ask for fewer items (`first`/`last`), or fetch nested lists and step outputs in separate operations.';
  return codedError(message, 'QUERY_TOO_EXPENSIVE', { cost: estimate.cost, limit });
}

function overLimitResult(
  estimateCost: CostEstimator,
  args: ExecutionArgs,
  limit: number,
  onEstimate: CostLimitOptions['onEstimate'],
): ExecutionResult | undefined {
  const estimate = estimateCost(args.schema, args.document, {
    variables: args.variableValues ?? null,
    operationName: args.operationName ?? null,
  });
  // No estimate: the operation cannot run (bad variables, no such operation), and execution says why.
  if (!estimate) return undefined;
  onEstimate?.(args.contextValue, estimate.cost);
  if (!estimate.truncated && estimate.cost <= limit) return undefined;
  return { errors: [queryTooExpensive(estimate, limit)] };
}

/**
 * Refuses operations whose estimated number of Workflows API requests ({@link estimateCost}) exceeds
 * `maxCost`, before they run: nothing is sent upstream, and the client gets one error with
 * `extensions: { code: 'QUERY_TOO_EXPENSIVE', cost, limit }` naming the fields that drive the cost.
 * Queries, mutations and subscriptions (over HTTP, SSE and graphql-ws) are all checked.
 *
 * @throws TypeError when `maxCost` is not a positive number.
 */
export interface CostLimitOptions {
  readonly maxCost: number;
  /** Told every operation's estimated cost (also of refused ones), with its context: for metrics and logs. */
  readonly onEstimate?: ((contextValue: unknown, cost: number) => void) | undefined;
  /** Told of every lookup in the estimate cache and whether it found the estimate (metrics). */
  readonly onCacheLookup?: ((hit: boolean) => void) | undefined;
}

export function useQueryCostLimit(options: CostLimitOptions): Plugin {
  const limit = options.maxCost;
  if (!Number.isFinite(limit) || limit < 1) {
    throw new TypeError(`useQueryCostLimit: maxCost must be a positive number (got ${String(limit)})`);
  }
  // Estimates are cached per parsed document: most operations repeat, and the walk is not free.
  const estimate = createCostCache(options.onCacheLookup);
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const result = overLimitResult(estimate, args, limit, options.onEstimate);
      if (result) setResultAndStopExecution(result);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const result = overLimitResult(estimate, args, limit, options.onEstimate);
      if (result) setResultAndStopExecution(result);
    },
  };
}
