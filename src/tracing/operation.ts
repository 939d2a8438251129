import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import type { OperationListener, OperationRecord } from '../operations/lifecycle.js';
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
 * children: src/tracing/upstream.ts): a listener of the operation lifecycle (src/operations/lifecycle.ts), which
 * follows operations on every transport. The span holds `graphql.operation.type` and `graphql.operation.name`;
 * the document is left out (its literals may hold data) and so are variables. Errors set the span's status to the
 * `extensions.code`s of the result, as the client got them.
 *
 * Over HTTP the span covers the whole operation (parse, validate, context, execute), so refused documents have
 * spans too. graphql-ws and graphql-sse run each phase through `getEnveloped` (src/transport/websocket.ts,
 * src/transport/sse.ts): there the span starts with the operation's first phase, each phase runs in its context,
 * and its parent is the `traceparent` of the WebSocket upgrade request or of the SSE request. The span ends with
 * the operation; a subscription's is its set-up (until its stream starts, or its refusal); its events are not
 * spans.
 */
export function operationTracing(tracing: Tracing): OperationListener {
  /** The span of each operation still running, and the context that holds it. */
  const spans = new WeakMap<OperationRecord, { readonly span: Span; readonly context: Context }>();

  const finish = (record: OperationRecord, codes: readonly string[]) => {
    const entry = spans.get(record);
    if (!entry) return;
    spans.delete(record);
    const { span } = entry;
    const type = record.operationType;
    if (type !== undefined) {
      const name = record.documentName;
      span.updateName(name === undefined ? type : `${type} ${name}`);
      span.setAttribute('graphql.operation.type', type);
      if (name !== undefined) span.setAttribute('graphql.operation.name', name);
    }
    if (codes.length > 0) {
      span.setAttribute('error.type', codes[0] ?? 'INTERNAL_SERVER_ERROR');
      span.setStatus({ code: SpanStatusCode.ERROR, message: [...new Set(codes)].join(', ') });
    }
    span.end();
  };

  return {
    enter(record, request, fn, whole) {
      let entry = spans.get(record);
      if (!entry) {
        const parent =
          request?.headers === undefined
            ? ROOT_CONTEXT
            : tracing.propagator.extract(ROOT_CONTEXT, request.headers, headerGetter);
        const span = tracing.tracer.startSpan(UNNAMED, { kind: SpanKind.SERVER }, parent);
        entry = { span, context: trace.setSpan(parent, span) };
        spans.set(record, entry);
      }
      // Over HTTP, a span the operation left open (no phase ended it) ends with the operation.
      const leftOpen = () => {
        if (whole) finish(record, []);
      };
      let result: ReturnType<typeof fn>;
      try {
        result = tracing.with(entry.context, fn);
      } catch (error) {
        leftOpen();
        throw error;
      }
      if (!isPromiseLike(result)) {
        leftOpen();
        return result;
      }
      return result.then(
        (value: unknown) => {
          leftOpen();
          return value;
        },
        (error: unknown) => {
          leftOpen();
          throw error;
        },
      ) as typeof result;
    },
    ended: (record, codes) => finish(record, codes),
  };
}

function isPromiseLike<T>(value: T): value is T & PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}
