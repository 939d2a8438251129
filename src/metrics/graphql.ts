import { getOperationAST, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin, type PromiseOrValue } from 'graphql-yoga';
import { createHistogram, usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { ERROR_CODES } from '../errors/codes.js';
import { outcomeOf, type OperationOutcome } from '../graphql/operation-outcome.js';
import type { Metrics } from './metrics.js';

/** One document's validation, as the validation phase goes. */
interface Validation {
  readonly document: DocumentNode;
  errors: readonly Error[];
}

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
 * Operations and errors are counted by {@link useOperationCounts} instead, because the plugin cannot give the
 * labels they need: its request counter is incremented when execution ends, without the result (no `outcome`),
 * and never for an operation refused while parsed or validated; its error counter labels by operation and path,
 * counts a failed validation as one error without its code, and misses errors thrown by validation rules.
 */
export function useGraphQLMetrics(metrics: Metrics): Plugin {
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(
        usePrometheus({
          registry: metrics.registry,
          endpoint: false,
          metrics: {
            ...UNUSED_YOGA_METRICS,
            graphql_envelop_request_duration: createHistogram({
              registry: metrics.registry,
              histogram: {
                name: 'wfgql_graphql_operation_duration_seconds',
                help: 'Time to execute a query or mutation, from the start of its execution to its result.',
                labelNames: [],
                buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
              },
              fillLabelsFn: () => ({}),
              phases: ['execute'],
            }),
          },
        }),
      );
      addPlugin(useOperationCounts(metrics));
    },
  };
}

/** The `code` label of an error: its `extensions.code` when the vocabulary lists it (src/errors/codes.ts). */
function codeOf(error: unknown): string {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  // Anything else is an unexpected error, which error masking answers with INTERNAL_SERVER_ERROR.
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) ? code : 'INTERNAL_SERVER_ERROR';
}

/**
 * Counts every operation once, with its outcome, and every error it answers with, on every transport (HTTP,
 * graphql-ws and SSE all run through yoga's envelop): a parse or validation refusal when it happens (also one
 * thrown by a validation rule, seen through the phase's instrumentation), an executed operation with its
 * result, a subscription when its stream starts (errors of its events as they are sent).
 */
function useOperationCounts(metrics: Metrics): Plugin {
  /** The document being validated and the errors it got, until the validation phase ends. */
  const validating = new WeakMap<object, Validation>();

  const labels = (document: DocumentNode | undefined, operationName: unknown) => {
    const operation = document && getOperationAST(document, typeof operationName === 'string' ? operationName : null);
    if (!operation) return { operation_type: 'unknown', operation_name: 'unknown' };
    const name = operation.name?.value;
    return {
      operation_type: operation.operation,
      operation_name: name === undefined ? 'anonymous' : metrics.operationNames.valueOf(name),
    };
  };
  const countErrors = (errors: readonly unknown[] | undefined) => {
    for (const error of errors ?? []) metrics.errors.inc({ code: codeOf(error) });
  };
  const count = (
    document: DocumentNode | undefined,
    operationName: unknown,
    outcome: OperationOutcome,
    errors: readonly unknown[] | undefined,
  ) => {
    metrics.operations.inc({ ...labels(document, operationName), outcome });
    countErrors(errors);
  };
  const paramsName = (context: object) => (context as { params?: { operationName?: unknown } }).params?.operationName;
  /** A result without `data` is a request error: the operation did not run (GraphQL spec, "Response"). */
  const refused = (context: object, document: DocumentNode | undefined, error: unknown) =>
    count(document, paramsName(context), 'rejected', [error]);

  /** Results of operations whose phase is still running. */
  const ended = new WeakMap<object, { args: ExecutionArgs; result: ExecutionResult }>();
  /**
   * Counts the result the phase of `context` ended with. Later plugins code some errors in place after our
   * `onExecuteDone` (src/transport/request-errors.ts codes refused variables); the phase's instrumentation
   * wraps every plugin's hooks, so by its end the codes are set.
   */
  const counted = (context: object) => {
    const entry = ended.get(context);
    if (!entry) return;
    ended.delete(context);
    const { args, result } = entry;
    count(args.document, args.operationName, outcomeOf(result), result.errors);
  };
  const afterPhase = (context: object, wrapped: () => PromiseOrValue<void>): PromiseOrValue<void> => {
    const done = wrapped();
    if (done instanceof Promise) return done.finally(() => counted(context));
    counted(context);
    return done;
  };

  return {
    instrumentation: {
      execute: ({ context }, wrapped) => afterPhase(context, wrapped),
      subscribe: ({ context }, wrapped) => afterPhase(context, wrapped),
      parse({ context }, wrapped) {
        try {
          wrapped();
        } catch (error) {
          refused(context, undefined, error);
          throw error;
        }
      },
      // Counted once the whole phase is done: yoga codes validation errors in a hook after ours.
      validate({ context }, wrapped) {
        try {
          wrapped();
        } catch (error) {
          refused(context, validating.get(context)?.document, error);
          validating.delete(context);
          throw error;
        }
        const validation = validating.get(context);
        validating.delete(context);
        if (validation?.errors.length) count(validation.document, paramsName(context), 'rejected', validation.errors);
      },
    },
    onValidate({ context, params }) {
      const validation: Validation = { document: params.documentAST, errors: [] };
      validating.set(context, validation);
      return ({ result }) => {
        validation.errors = result;
      };
    },
    // Results are counted once the whole phase is done (see `counted`), so codes later plugins set are seen.
    onExecute({ args }) {
      return {
        onExecuteDone({ result }) {
          if (!isAsyncIterable(result)) ended.set(args.contextValue as object, { args, result });
        },
      };
    },
    onSubscribe({ args }) {
      return {
        onSubscribeResult({ result }) {
          if (!isAsyncIterable(result)) {
            ended.set(args.contextValue as object, { args, result });
            return undefined;
          }
          count(args.document, args.operationName, 'success', undefined);
          return { onNext: ({ result: event }) => countErrors(event.errors) };
        },
      };
    },
  };
}
