/**
 * One `info` line per GraphQL operation (two per subscription: when it starts and when it ends), whatever the
 * transport: HTTP, graphql-ws and SSE all run operations through yoga's enveloped parse, validate, execute and
 * subscribe, whose envelop instrumentation and hooks this plugin uses.
 */
import { getOperationAST, type ExecutionResult, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ANONYMOUS } from '../auth/principal.js';
import type { Context, PrincipalRegistry } from '../context.js';
import { currentLogFields, runWithLogFields, type LogFields, type Logger } from '../logger.js';
import { outcomeOf, type OperationOutcome } from '../graphql/operation-outcome.js';
import type { UpstreamObserver } from '../upstream/observer.js';
import { REQUEST_ID_HEADER, type RequestIds } from './request-id.js';

/** What the operation line reports, gathered while the operation runs. */
class OperationRecord implements LogFields {
  /** Upstream calls count for this operation only while this holds (see {@link operationUpstreamObserver}). */
  open = true;
  upstreamCalls = 0;
  upstreamRetries = 0;
  cost: number | undefined;
  operationName: string | null | undefined;
  operationType: string | undefined;
  principal: string | undefined;
  events = 0;
  /** Set where the operation ends; unset for a subscription's end, which is judged by its events' errors. */
  outcome: OperationOutcome | undefined;
  readonly errorCodes = new Set<string>();
  readonly startedAt = performance.now();

  constructor(readonly requestId: string) {}
}

/** The record of the operation whose async context the caller runs in, while it is running. */
function runningRecord(): OperationRecord | undefined {
  const fields = currentLogFields();
  return fields instanceof OperationRecord && fields.open ? fields : undefined;
}

/**
 * Counts each upstream call against the operation that made it: the client tells `callStarted` in the caller's
 * async context (src/upstream/observer.ts), which the plugin's instrumentation set to the operation's record. A
 * call de-duplicated into another operation's identical one sends nothing and is not counted. Timers an operation
 * leaves behind (a subscription's poll loop, started by its first subscriber) inherit its context, so a record
 * stops counting once its execute or subscribe phase has returned.
 */
export const operationUpstreamObserver: UpstreamObserver = {
  callStarted() {
    const record = runningRecord();
    if (!record) return undefined;
    record.upstreamCalls += 1;
    return {
      attemptEnded() {},
      ended(end) {
        record.upstreamRetries += end.retries;
      },
    };
  },
  deduplicated() {},
};

/** For `useQueryCostLimit`'s `onEstimate`: the estimate is made in the operation's execute or subscribe phase. */
export function recordOperationCost(_contextValue: unknown, cost: number): void {
  const record = runningRecord();
  if (record) record.cost = cost;
}

/** A GraphQL name a client chose, logged only when it is one (bounded): anything else would be arbitrary text. */
const NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

/** The codes of errors as the client sees them (an error without one is masked as `INTERNAL_SERVER_ERROR`). */
function codesOf(errors: readonly unknown[], fallback: string): string[] {
  return errors.map((error) => {
    const code = (error as Partial<GraphQLError> | undefined)?.extensions?.code;
    return typeof code === 'string' ? code : fallback;
  });
}

interface EnvelopContext {
  readonly request?: Request;
  readonly params?: { readonly operationName?: unknown };
}

export interface OperationLogOptions {
  readonly logger: Logger;
  readonly requestIds: RequestIds;
  /** Where transports leave authenticated principals: names the caller of an operation refused before its context. */
  readonly principals?: PrincipalRegistry;
  /** Whether requests are authenticated; when not, every caller is `anonymous` (src/auth/principal.ts). */
  readonly authenticated?: boolean;
}

/**
 * Writes the operation lines and echoes each request's id in the `x-request-id` response header. Put it before
 * plugins that may stop an execution (the cost limit), so it still sees the result they set.
 */
export function useOperationLog(options: OperationLogOptions): Plugin<Record<string, unknown>, Context> {
  const { logger, requestIds, principals } = options;
  // Keyed by the object yoga passes to getEnveloped: the same for the parse, validate and execute of one operation.
  const records = new WeakMap<object, OperationRecord>();
  const recordOf = (context: EnvelopContext): OperationRecord => {
    let record = records.get(context);
    if (record === undefined) {
      record = new OperationRecord(context.request ? requestIds.of(context.request) : 'unknown');
      const name = context.params?.operationName;
      record.operationName = typeof name === 'string' && NAME.test(name) ? name : undefined;
      record.principal =
        (context.request ? principals?.get(context.request)?.id : undefined) ??
        (options.authenticated ? undefined : ANONYMOUS.id);
      records.set(context, record);
    }
    return record;
  };

  const write = (record: OperationRecord, message: string, extra: Record<string, unknown> = {}) => {
    const codes = [...record.errorCodes];
    logger.info(
      {
        requestId: record.requestId,
        operationName: record.operationName ?? null,
        operationType: record.operationType ?? null,
        durationMs: Math.round((performance.now() - record.startedAt) * 10) / 10,
        upstreamCalls: record.upstreamCalls,
        upstreamRetries: record.upstreamRetries,
        ...(record.cost === undefined ? {} : { cost: record.cost }),
        outcome: record.outcome ?? (codes.length === 0 ? 'success' : 'error'),
        ...(codes.length === 0 ? {} : { errorCodes: codes }),
        principal: record.principal ?? null,
        ...extra,
      },
      message,
    );
  };

  /** A phase that throws its refusal (a parse error, a document limit): the operation ends there. */
  const refused = (record: OperationRecord, error: unknown, fallback: string) => {
    for (const code of codesOf([error], fallback)) record.errorCodes.add(code);
    record.open = false;
    record.outcome = 'rejected';
    write(record, 'operation');
  };

  const phase =
    (fallback: string) =>
    ({ context }: { context: EnvelopContext }, wrapped: () => void): void => {
      const record = recordOf(context);
      try {
        runWithLogFields(record, wrapped);
      } catch (error) {
        refused(record, error, fallback);
        throw error;
      }
    };

  /** Runs execute or subscribe in the record's context, and closes the record when that phase has returned. */
  const running = (
    { context }: { context: EnvelopContext },
    wrapped: () => Promise<void> | void,
  ): Promise<void> | void => {
    const record = recordOf(context);
    const close = () => {
      record.open = false;
    };
    let result: Promise<void> | void;
    try {
      result = runWithLogFields(record, wrapped);
    } catch (error) {
      close();
      throw error;
    }
    if (result instanceof Promise) return result.finally(close);
    close();
    return result;
  };

  /** Fills the record from the arguments execute and subscribe were called with. */
  const started = (args: {
    document: Parameters<typeof getOperationAST>[0];
    operationName?: string | null;
    contextValue: unknown;
  }) => {
    const record = runningRecord();
    if (!record) return undefined;
    const operation = getOperationAST(args.document, args.operationName);
    record.operationType = operation?.operation;
    if (operation?.name) record.operationName = operation.name.value;
    const principal = (args.contextValue as Partial<Context> | undefined)?.principal;
    if (principal) record.principal = principal.id;
    return record;
  };

  return {
    onResponse({ request, response }) {
      response.headers.set(REQUEST_ID_HEADER, requestIds.of(request));
    },
    instrumentation: {
      parse: phase('GRAPHQL_PARSE_FAILED'),
      validate: phase('GRAPHQL_VALIDATION_FAILED'),
      execute: running,
      subscribe: running,
    },
    onValidate({ context, params }) {
      // Named before validation, so that an operation refused by a rule or a hook that throws is named too
      // (src/transport/document-limits.ts, src/transport/subscription-slots.ts).
      const record = recordOf(context as EnvelopContext);
      const operation = getOperationAST(params.documentAST, record.operationName);
      record.operationType = operation?.operation;
      if (operation?.name) record.operationName = operation.name.value;
      return ({ valid, result }) => {
        if (valid) return;
        for (const code of codesOf(result, 'GRAPHQL_VALIDATION_FAILED')) record.errorCodes.add(code);
        record.open = false;
        record.outcome = 'rejected';
        write(record, 'operation');
      };
    },
    onExecute({ args }) {
      const record = started(args);
      if (!record) return undefined;
      return {
        onExecuteDone({ result }) {
          if (Symbol.asyncIterator in result) return;
          for (const code of codesOf(result.errors ?? [], 'INTERNAL_SERVER_ERROR')) record.errorCodes.add(code);
          record.outcome = outcomeOf(result);
          write(record, 'operation');
        },
      };
    },
    onSubscribe({ args }) {
      const record = started(args);
      if (!record) return undefined;
      return {
        onSubscribeResult({ result }) {
          if (!(Symbol.asyncIterator in result)) {
            // Refused before it started (the cost limit, a resolver's error): one line, as for a query.
            for (const code of codesOf((result as ExecutionResult).errors ?? [], 'INTERNAL_SERVER_ERROR')) {
              record.errorCodes.add(code);
            }
            record.outcome = outcomeOf(result as ExecutionResult);
            write(record, 'operation');
            return undefined;
          }
          write(record, 'subscription started');
          return {
            onNext({ result: event }) {
              record.events += 1;
              for (const code of codesOf(event.errors ?? [], 'INTERNAL_SERVER_ERROR')) record.errorCodes.add(code);
            },
            onEnd() {
              write(record, 'subscription ended', { events: record.events });
            },
          };
        },
        onSubscribeError({ error }) {
          for (const code of codesOf([error], 'INTERNAL_SERVER_ERROR')) record.errorCodes.add(code);
        },
      };
    },
  };
}
