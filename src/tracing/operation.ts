import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type TextMapGetter } from '@opentelemetry/api';
import { getOperationAST, type DocumentNode } from 'graphql';
import { isAsyncIterable, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import type { Tracing } from './tracing.js';

/** The span's name until the document says which operation runs (semantic conventions for GraphQL servers). */
const UNNAMED = 'GraphQL Operation';

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/**
 * Makes every GraphQL operation a span named after it (`query Dashboard`), a child of the `traceparent` its
 * request carried, with everything the operation does running in the span's context (so upstream calls are its
 * children: src/tracing/upstream.ts). The span holds `graphql.operation.type` and `graphql.operation.name`; the
 * document is left out (its literals may hold data) and so are variables. Errors set the span's status to the
 * `extensions.code`s of the result.
 *
 * Over HTTP the span covers the whole operation (Yoga's `operation` instrumentation: parse, validate, context,
 * execute), so refused documents have spans too. graphql-ws and graphql-sse run operations through
 * `getEnveloped` (src/transport/websocket.ts, src/transport/sse.ts), which Yoga's `operation` instrumentation does
 * not wrap: there the span covers `execute` or `subscribe`, and its parent is the `traceparent` of the WebSocket
 * upgrade request or of the SSE request. A subscription's span is its set-up (until the first event may flow);
 * its events are not spans.
 */
export function useOperationTracing(tracing: Tracing): Plugin {
  /** The span of each operation, by its context object (the same object in every phase of one operation). */
  const spans = new WeakMap<object, Span>();

  function traced<T>(operation: object, request: Request | undefined, wrapped: () => T): T {
    const parent =
      request?.headers === undefined
        ? ROOT_CONTEXT
        : tracing.propagator.extract(ROOT_CONTEXT, request.headers, headerGetter);
    const span = tracing.tracer.startSpan(UNNAMED, { kind: SpanKind.SERVER }, parent);
    spans.set(operation, span);
    let result: T;
    try {
      result = tracing.with(trace.setSpan(parent, span), wrapped);
    } catch (error) {
      failed(span, error);
      throw error;
    }
    if (!isPromiseLike(result)) {
      span.end();
      return result;
    }
    return result.then(
      () => span.end(),
      (error: unknown) => {
        failed(span, error);
        throw error;
      },
    ) as T;
  }

  /** Starts a span for an operation Yoga's `operation` instrumentation did not wrap (graphql-ws, graphql-sse). */
  const tracedPhase = <T>({ context }: { context: Partial<YogaInitialContext> }, wrapped: () => T): T =>
    spans.has(context) ? wrapped() : traced(context, context.request, wrapped);

  return {
    instrumentation: {
      operation: ({ context, request }, wrapped) => traced(context, request, wrapped),
      execute: tracedPhase,
      subscribe: tracedPhase,
    },
    onExecute({ args }) {
      const span = spans.get(args.contextValue as object);
      if (!span) return undefined;
      describe(span, args);
      return {
        onExecuteDone({ result }) {
          if (!isAsyncIterable(result)) withErrors(span, result.errors);
        },
      };
    },
    onSubscribe({ args }) {
      const span = spans.get(args.contextValue as object);
      if (!span) return undefined;
      describe(span, args);
      return {
        onSubscribeResult({ result }) {
          if (!isAsyncIterable(result)) withErrors(span, result.errors);
        },
      };
    },
    // HTTP: also the results of documents refused before execution (parse, validation, operation resolution).
    onExecutionResult({ result, context }) {
      const span = spans.get(context);
      if (span && result !== undefined && !Array.isArray(result) && !isAsyncIterable(result))
        withErrors(span, result.errors);
    },
  };
}

function describe(span: Span, args: { document: DocumentNode; operationName?: string | null | undefined }): void {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return;
  const type = operation.operation;
  const name = operation.name?.value;
  span.updateName(name === undefined ? type : `${type} ${name}`);
  span.setAttribute('graphql.operation.type', type);
  if (name !== undefined) span.setAttribute('graphql.operation.name', name);
}

type CodedError = { readonly extensions?: { readonly code?: unknown } } | undefined;

/** Error status with the result's codes (never messages, which may quote names and ids). */
function withErrors(span: Span, errors: readonly CodedError[] | undefined): void {
  if (errors === undefined || errors.length === 0) return;
  // An error without a code is one yoga masked (src/errors/codes.ts).
  const codes = [...new Set(errors.map((e) => String(e?.extensions?.code ?? 'INTERNAL_SERVER_ERROR')))];
  span.setAttribute('error.type', codes[0] ?? 'INTERNAL_SERVER_ERROR');
  span.setStatus({ code: SpanStatusCode.ERROR, message: codes.join(', ') });
}

/** The operation threw instead of answering with errors. */
function failed(span: Span, error: unknown): void {
  withErrors(span, [error as CodedError]);
  span.end();
}

function isPromiseLike<T>(value: T): value is T & PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}
