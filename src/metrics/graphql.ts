import type { Plugin } from 'graphql-yoga';
import { usePrometheus } from '@graphql-yoga/plugin-prometheus';
import type { ErrorCode } from '../errors/codes.js';
import type { OperationListener } from '../operations/lifecycle.js';
import type { Metrics } from './metrics.js';
import { TalliedHistogram } from './tallied-histogram.js';

/** The metrics of Yoga's Prometheus plugin that this server does not use (it turns them all on by default). */
const UNUSED_YOGA_METRICS = {
  graphql_envelop_deprecated_field: false,
  graphql_envelop_request: false,
  graphql_envelop_request_time_summary: false,
  graphql_envelop_phase_parse: false,
  graphql_envelop_phase_validate: false,
  graphql_envelop_phase_context: false,
  graphql_envelop_error_result: false,
  graphql_envelop_execute_resolver: false,
  graphql_envelop_phase_execute: false,
  graphql_envelop_phase_subscribe: false,
  graphql_envelop_schema_change: false,
  graphql_yoga_http_duration: false,
} as const;

/**
 * The GraphQL metrics. Yoga's Prometheus plugin measures `wfgql_graphql_operation_duration_seconds` (its request
 * duration, on our registry, for queries and mutations: a subscription's "duration" would be its lifetime).
 * Operations and errors are counted by {@link operationMetrics} instead, because the plugin cannot give the
 * labels they need: its request counter is incremented when execution ends, without the result (no `outcome`),
 * and never for an operation refused while parsed or validated; its error counter labels by operation and path,
 * counts a failed validation as one error without its code, and misses errors thrown by validation rules.
 */
export function useGraphQLMetrics(metrics: Metrics): Plugin {
  return usePrometheus({
    registry: metrics.registry,
    endpoint: false,
    metrics: {
      ...UNUSED_YOGA_METRICS,
      // The plugin's own factory (`createHistogram`) would make a prom-client Histogram: see TalliedHistogram.
      graphql_envelop_request_duration: {
        histogram: new TalliedHistogram({
          name: 'wfgql_graphql_operation_duration_seconds',
          help: 'Time to execute a query or mutation, from the start of its execution to its result.',
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          registers: [metrics.registry],
        }),
        fillLabelsFn: () => ({}),
        phases: ['execute'],
      },
    },
  });
}

/**
 * Counts every operation once, with its outcome, and every error it answers with (a subscription's events' as they
 * are sent): a listener of the operation lifecycle (src/operations/lifecycle.ts), which sees every transport.
 */
export function operationMetrics(metrics: Metrics): OperationListener {
  const countErrors = (codes: readonly ErrorCode[]) => {
    for (const code of codes) metrics.errors.of(code).inc();
  };
  return {
    ended(record, codes) {
      const type = record.operationType;
      const name = record.documentName;
      metrics.operations
        .of(
          type ?? 'unknown',
          type === undefined ? 'unknown' : name === undefined ? 'anonymous' : metrics.operationNames.valueOf(name),
          record.outcome ?? 'success',
        )
        .inc();
      countErrors(codes);
    },
    event: (_record, codes) => countErrors(codes),
  };
}
