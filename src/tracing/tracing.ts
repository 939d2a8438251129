import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, type Context, type TextMapPropagator, type Tracer } from '@opentelemetry/api';

/**
 * What the operation plugin (src/tracing/operation.ts) and the upstream observer (src/tracing/upstream.ts) trace
 * with: a tracer, the W3C trace-context propagator, and the active context of this server's own spans.
 *
 * The context lives in an AsyncLocalStorage of this instance rather than in the OpenTelemetry API's global context
 * manager: a process registers a global only once, tests build several apps per process, and an operator's own
 * global SDK (`--require` of an auto-instrumentation) keeps working beside ours.
 */
export interface Tracing {
  readonly tracer: Tracer;
  readonly propagator: TextMapPropagator;
  /** The context `fn` runs in (and everything it starts, awaits included). */
  with<T>(context: Context, fn: () => T): T;
  /** The context of the caller: an operation's span while it runs, the root context elsewhere. */
  active(): Context;
  /** Exports the spans still queued, then stops the exporter. Idempotent. */
  shutdown(): Promise<void>;
}

/** A {@link Tracing} from its parts; `shutdown` is the provider's. */
export function createTracing(parts: {
  tracer: Tracer;
  propagator: TextMapPropagator;
  shutdown(): Promise<void>;
}): Tracing {
  const storage = new AsyncLocalStorage<Context>();
  let stopped: Promise<void> | undefined;
  return {
    tracer: parts.tracer,
    propagator: parts.propagator,
    with: (context, fn) => storage.run(context, fn),
    active: () => storage.getStore() ?? ROOT_CONTEXT,
    shutdown: () => (stopped ??= parts.shutdown()),
  };
}
