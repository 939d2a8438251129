/**
 * One home for what happens to a GraphQL operation on every transport: HTTP, graphql-ws and SSE all run operations
 * through yoga's enveloped parse, validate, execute and subscribe, whose instrumentation and hooks this plugin
 * follows once, for every listener (the operation log line, the operation metrics). Each operation gets one
 * {@link OperationRecord}; listeners are told when it ends (refused, or with its result), and of a subscription's
 * events and end.
 */
import { getOperationAST, parse, type DocumentNode, type ExecutionResult, type OperationTypeNode } from 'graphql';
import { isAsyncIterable, type Plugin, type PromiseOrValue } from 'graphql-yoga';
import { ANONYMOUS } from '../auth/principal.js';
import type { Context, PrincipalRegistry } from '../context.js';
import { ERROR_CODES, type ErrorCode } from '../errors/codes.js';
import { outcomeOf, type OperationOutcome } from '../graphql/operation-outcome.js';
import type { Logger } from '../logger.js';
import type { CallOrigin, UpstreamObserver } from '../upstream/observer.js';
import { ObservedStream, type StreamObserver } from './observed-stream.js';
import { REQUEST_ID_HEADER, type RequestIds } from './request-id.js';

/** A GraphQL name a client chose, kept only when it is one (bounded): anything else would be arbitrary text. */
const NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

/** One operation, from its first phase to its end: what listeners report, gathered while it runs. */
export class OperationRecord implements CallOrigin {
  /** Upstream calls count for this operation only while this holds (see {@link operationUpstreamObserver}). */
  open = true;
  upstreamCalls = 0;
  upstreamRetries = 0;
  cost: number | undefined;
  /** The type of the operation the document selects, once it is parsed; undefined for a document refused before. */
  operationType: OperationTypeNode | undefined;
  /** The name the document gives that operation (undefined: anonymous, or no operation known). */
  documentName: string | undefined;
  /** The `operationName` the client sent, when it is a GraphQL name. */
  requestedName: string | undefined;
  principal: string | undefined;
  /** Events a subscription has sent. */
  events = 0;
  /** Set when the operation ends (a subscription's when its stream starts). */
  outcome: OperationOutcome | undefined;
  /** The `extensions.code` of the errors the client got, each once (a subscription's events' too): bounded. */
  readonly errorCodes = new Set<ErrorCode>();
  readonly startedAt = performance.now();
  /** Whether the operation ended (a subscription: whether its stream started). */
  ended = false;
  /** Whether it is a subscription whose stream started (it then ends twice: started, and ended). */
  streaming = false;

  constructor(readonly requestId: string) {}

  /** Keeps the `operationName` the client sent, when it is a GraphQL name. */
  requested(name: unknown): void {
    if (this.requestedName === undefined && typeof name === 'string' && NAME.test(name)) this.requestedName = name;
  }

  /** The operation's name: the document's, else the one the client asked for. */
  get operationName(): string | undefined {
    return this.documentName ?? this.requestedName;
  }
}

/** What the lifecycle tells each listener. */
export interface OperationListener {
  /**
   * Runs `fn`, a stretch of the operation, in the listener's own async context (a trace span's). Over HTTP once,
   * around the whole operation (`whole`: parse, validate, context, execute); over graphql-ws and SSE, which run
   * phases through `getEnveloped` without yoga's `operation` instrumentation, around each phase.
   */
  enter?<T>(record: OperationRecord, request: Request | undefined, fn: () => T, whole: boolean): T;
  /**
   * The operation ended: refused before it ran, or with its result; a subscription when its stream started (or
   * was refused). `record.outcome` is set; `codes` are its errors' (one per error).
   */
  ended(record: OperationRecord, codes: readonly ErrorCode[]): void;
  /** A subscription sent an event whose errors have `codes`. */
  event?(record: OperationRecord, codes: readonly ErrorCode[]): void;
  /** A subscription whose stream started has ended. */
  subscriptionEnded?(record: OperationRecord): void;
}

/** The code of an error as the client sees it: its `extensions.code` from the vocabulary (src/errors/codes.ts). */
export function codeOf(error: unknown, fallback: ErrorCode = 'INTERNAL_SERVER_ERROR'): ErrorCode {
  const code = (error as { extensions?: { code?: unknown } } | null | undefined)?.extensions?.code;
  // Anything else is an unexpected error, which error masking answers with INTERNAL_SERVER_ERROR.
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) ? (code as ErrorCode) : fallback;
}

/**
 * The document of an operation that parsed but was refused by a check after parsing, for naming it: yoga refuses
 * a mutation sent with GET (405) in its own parse hook, which runs before any of ours. Such a document has passed
 * the document limits once; parsing it again costs what the first parse did, and only on this refusal.
 */
function parsedBeforeRefusal(error: unknown, query: unknown): DocumentNode | undefined {
  const status = (error as { extensions?: { http?: { status?: unknown } } } | null)?.extensions?.http?.status;
  if (status !== 405 || typeof query !== 'string') return undefined;
  try {
    return parse(query);
  } catch {
    return undefined;
  }
}

/**
 * Each operation's record, keyed by the object yoga passes to `getEnveloped`. Envelop builds the operation's context
 * in that very object, so it is also what yoga's `context` factory is given (src/app.ts hands the record to the
 * context's API there, src/context.ts) and the `contextValue` of execute and subscribe, on every transport.
 */
export type OperationRecords = WeakMap<object, OperationRecord>;

/** The record of the operation whose context is `contextValue`, while its execute or subscribe phase runs. */
function runningRecord(records: OperationRecords, contextValue: unknown): OperationRecord | undefined {
  const record = typeof contextValue === 'object' && contextValue !== null ? records.get(contextValue) : undefined;
  return record?.open ? record : undefined;
}

/**
 * Counts each upstream call against the operation that made it: the client names the call's origin, the record
 * its context's API was made for (src/context.ts), while that is open. A call de-duplicated into another
 * operation's identical one sends nothing and is not counted. A subscription's poll loop keeps the API of the
 * subscription that started it, whose record stops counting once its subscribe phase has returned.
 */
export const operationUpstreamObserver: UpstreamObserver = {
  callStarted({ origin: record }) {
    if (!(record instanceof OperationRecord)) return undefined;
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
export function recordOperationCost(records: OperationRecords, contextValue: unknown, cost: number): void {
  const record = runningRecord(records, contextValue);
  if (record) record.cost = cost;
}

/** What the `onSubscribe` hook of a plugin returns (envelop's OnSubscribeHookResult, which yoga does not export). */
type SubscriptionHooks = Exclude<Awaited<ReturnType<NonNullable<Plugin['onSubscribe']>>>, void>;

interface EnvelopContext {
  readonly request?: Request;
  readonly params?: { readonly operationName?: unknown; readonly query?: unknown };
}

export interface OperationLifecycleOptions {
  /** Where each operation's record is kept (filled by the plugin). */
  readonly records: OperationRecords;
  readonly requestIds: RequestIds;
  /** Where transports leave authenticated principals: names the caller of an operation refused before its context. */
  readonly principals?: PrincipalRegistry;
  /** Whether requests are authenticated; when not, every caller is `anonymous` (src/auth/principal.ts). */
  readonly authenticated?: boolean;
  readonly listeners: readonly OperationListener[];
  /** Where a listener's failure is reported (once per listener): it never changes the operation's answer. */
  readonly logger: Logger;
}

/**
 * Follows every operation and tells the listeners, and echoes each request's id in the `x-request-id` response
 * header. An operation's end is reported once its phase is done, with every plugin's hooks: later plugins code some
 * errors in place after an `onExecuteDone` (src/transport/request-errors.ts codes refused variables, yoga codes
 * validation errors), and a phase's instrumentation wraps them all. Put it before plugins that stop an execution
 * (the cost limit), so that it sees the result they set.
 */
export function useOperationLifecycle(options: OperationLifecycleOptions): Plugin<Record<string, unknown>, Context> {
  const { records, requestIds, principals, logger } = options;
  const failed = new Set<OperationListener>();
  /** Calls `tell` for every listener, each apart: a listener that throws is reported once and skipped for this call. */
  const notify = (tell: (listener: OperationListener) => void) => {
    for (const listener of options.listeners) {
      try {
        tell(listener);
      } catch (error) {
        if (failed.has(listener)) continue;
        failed.add(listener);
        logger.error('an operation listener failed (reported once)', error);
      }
    }
  };
  /** Results of operations whose execute or subscribe phase is still running. */
  const results = new WeakMap<OperationRecord, ExecutionResult>();
  /** Validation errors of each record, from the validate hook to the end of the validate phase. */
  const validationErrors = new WeakMap<OperationRecord, readonly unknown[]>();

  /**
   * The record of the operation of `context`. Over HTTP it is made by the `operation` instrumentation, before yoga
   * has put the request and its params on the context (so `request` is passed): the params' name is read later.
   */
  const recordOf = (context: EnvelopContext, request = context.request): OperationRecord => {
    let record = records.get(context);
    if (record === undefined) {
      record = new OperationRecord(request ? requestIds.of(request) : 'unknown');
      record.principal =
        (request ? principals?.get(request)?.id : undefined) ?? (options.authenticated ? undefined : ANONYMOUS.id);
      records.set(context, record);
    }
    record.requested(context.params?.operationName);
    return record;
  };

  const end = (
    record: OperationRecord,
    outcome: OperationOutcome,
    errors: readonly unknown[],
    fallback?: ErrorCode,
  ) => {
    if (record.ended) return;
    record.ended = true;
    record.open = false;
    record.outcome = outcome;
    const codes = errors.map((error) => codeOf(error, fallback));
    for (const code of codes) record.errorCodes.add(code);
    notify((listener) => listener.ended(record, codes));
  };

  /** A subscription whose stream started is over: told once. */
  const over = new WeakSet<OperationRecord>();
  const subscriptionEnded = (record: OperationRecord) => {
    if (over.has(record)) return;
    over.add(record);
    notify((listener) => listener.subscriptionEnded?.(record));
  };
  const event = (record: OperationRecord, errors: readonly unknown[]) => {
    const codes = errors.map((error) => codeOf(error));
    for (const code of codes) record.errorCodes.add(code);
    notify((listener) => listener.event?.(record, codes));
  };

  const named = (record: OperationRecord, document: DocumentNode, operationName?: string | null) => {
    if (record.operationType !== undefined) return;
    const operation = getOperationAST(document, operationName ?? record.requestedName);
    record.operationType = operation?.operation;
    record.documentName = operation?.name?.value;
  };

  /** The listeners with an `enter`, the last first: wrapped in this order, the first listener is outermost. */
  const innermostFirst = options.listeners.filter((listener) => listener.enter !== undefined).reverse();
  /** HTTP operations, whose listeners entered once around the whole operation. */
  const entered = new WeakSet<OperationRecord>();
  /** Runs `fn` in every listener's context (the first listener outermost). */
  const scoped = <T>(record: OperationRecord, request: Request | undefined, fn: () => T, whole: boolean): T => {
    if (!whole && entered.has(record)) return fn();
    let run = fn;
    for (const listener of innermostFirst) {
      const { enter } = listener;
      if (enter === undefined) continue;
      const inner = run;
      run = () => enter.call(listener, record, request, inner, whole) as T;
    }
    return run();
  };

  /** A phase that throws its refusal (a parse error, a document limit): the operation ends there. */
  const refusing =
    (fallback: ErrorCode) =>
    ({ context }: { context: EnvelopContext }, wrapped: () => void): void => {
      const record = recordOf(context);
      try {
        scoped(record, context.request, wrapped, false);
      } catch (error) {
        const parsed = parsedBeforeRefusal(error, context.params?.query);
        if (parsed) named(record, parsed);
        end(record, 'rejected', [error], fallback);
        throw error;
      }
    };

  /** Runs execute or subscribe in the record's context; ends the record with its result when the phase is done. */
  const running = (
    { context }: { context: EnvelopContext },
    wrapped: () => PromiseOrValue<void>,
  ): PromiseOrValue<void> => {
    const record = recordOf(context);
    const done = () => {
      record.open = false;
      const result = results.get(record);
      if (result === undefined) return;
      results.delete(record);
      end(record, outcomeOf(result), result.errors ?? []);
    };
    // A phase that throws (a hook's or the executor's unexpected error) answers with an error all the same.
    const threw = (error: unknown) => {
      record.open = false;
      results.delete(record);
      end(record, 'error', [error]);
      return error;
    };
    let phase: PromiseOrValue<void>;
    try {
      phase = scoped(record, context.request, wrapped, false);
    } catch (error) {
      throw threw(error);
    }
    if (phase instanceof Promise)
      return phase.then(done, (error: unknown) => {
        throw threw(error);
      });
    done();
    return phase;
  };

  /** Fills the record from the arguments execute and subscribe were called with. */
  const started = (args: { document: DocumentNode; operationName?: string | null; contextValue: unknown }) => {
    const record = runningRecord(records, args.contextValue);
    if (!record) return undefined;
    named(record, args.document, args.operationName);
    const principal = (args.contextValue as Partial<Context> | undefined)?.principal;
    if (principal) record.principal = principal.id;
    return record;
  };

  /** A streaming subscription's events, end and failure (an ObservedStream tells them). */
  const streamObserver: StreamObserver<OperationRecord> = {
    event(record, result) {
      record.events += 1;
      event(record, result.errors ?? []);
    },
    ended: (record) => subscriptionEnded(record),
    failed(record, error) {
      event(record, [error]);
      subscriptionEnded(record);
    },
  };
  const subscriptionHooks: SubscriptionHooks = {
    onSubscribeResult({ args, result, setResult }) {
      const record = records.get(args.contextValue);
      if (record === undefined) return;
      // Refused before it started (the cost limit, a resolver's error): ended like a query's.
      if (!isAsyncIterable(result)) {
        results.set(record, result);
        return;
      }
      record.streaming = true;
      end(record, 'success', []);
      setResult(new ObservedStream(result as AsyncIterable<ExecutionResult>, record, streamObserver));
    },
  };

  return {
    onResponse({ request, response }) {
      response.headers.set(REQUEST_ID_HEADER, requestIds.of(request));
    },
    instrumentation: {
      operation({ context, request }, wrapped) {
        const record = recordOf(context as EnvelopContext, request);
        entered.add(record);
        return scoped(record, request, wrapped, true);
      },
      parse: refusing('GRAPHQL_PARSE_FAILED'),
      validate({ context }, wrapped) {
        refusing('GRAPHQL_VALIDATION_FAILED')({ context }, wrapped);
        // Ended here, not in onValidate's after-hook: yoga codes validation errors in a hook after ours.
        const record = recordOf(context);
        const errors = validationErrors.get(record);
        validationErrors.delete(record);
        if (errors?.length) end(record, 'rejected', errors, 'GRAPHQL_VALIDATION_FAILED');
      },
      execute: running,
      subscribe: running,
    },
    // HTTP: the result of an operation that ended in none of the phases above (its context could not be built).
    onExecutionResult({ result, context }) {
      const record = records.get(context);
      if (record && !record.ended && result !== undefined && !Array.isArray(result) && !isAsyncIterable(result))
        end(record, outcomeOf(result), result.errors ?? []);
    },
    onValidate({ context, params }) {
      // Named before validation, so that an operation refused by a rule or a hook that throws is named too
      // (src/transport/document-limits.ts, src/transport/subscription-slots.ts).
      const record = recordOf(context as EnvelopContext);
      named(record, params.documentAST);
      return ({ result }) => {
        validationErrors.set(record, result);
      };
    },
    onExecute({ args }) {
      const record = started(args);
      if (!record) return undefined;
      return {
        onExecuteDone({ result }) {
          if (!isAsyncIterable(result)) results.set(record, result);
        },
      };
    },
    onSubscribe({ args }) {
      // One hooks object for every subscription: the record is found again from the arguments.
      return started(args) ? subscriptionHooks : undefined;
    },
  };
}
