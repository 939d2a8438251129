import type { UpstreamError } from './errors.js';
import type { Priority } from './types.js';

/**
 * The operation a per-request API view makes its calls for (`Upstream.forClient`), as far as this layer knows it:
 * src/operations/lifecycle.ts's record of the operation whose context holds the view (src/context.ts).
 */
export interface CallOrigin {
  /** Tags the client's log lines of the call (retries, 429s). */
  readonly requestId: string;
  /**
   * Whether calls made now are still the operation's: false once its execute or subscribe phase has returned, so
   * that a poll loop which keeps the view of the subscription that started it makes calls for no operation.
   */
  readonly open: boolean;
}

/** One logical upstream call, as the client reports it before its first attempt. Never holds a token or an id. */
export interface UpstreamCallInfo {
  readonly method: string;
  /** The route template (`GET /workflows/{name}/instances/{id}`), never a concrete path. */
  readonly route: string;
  readonly priority: Priority;
  /** `accountId:hash` of the credential (see upstream/credential.ts): no token. */
  readonly credentialKey: string;
  /**
   * The open operation that sent it; unset for calls of no operation (poll loops, the start-up check). A read that
   * joins an identical one in flight sends nothing: it is {@link UpstreamObserver.deduplicated}, not started.
   */
  readonly origin?: CallOrigin | undefined;
}

/** One attempt of a call that got an answer (`status`) or none (`'network'`). */
export interface UpstreamAttemptInfo {
  /** 0 for the first attempt, 1 for the first retry... */
  readonly index: number;
  readonly status: number | 'network';
  /** From sending to the answer's headers (or the transport failure). */
  readonly durationMs: number;
}

/** How a call ended: `error` unset when it succeeded; `refusedByBudget` when our own budget refused it. */
export interface UpstreamCallEnd {
  readonly error?: UpstreamError | undefined;
  readonly refusedByBudget?: boolean;
  /** Retries made (attempts after the first). */
  readonly retries: number;
  /** Time spent waiting between attempts (Retry-After or backoff). */
  readonly waitedMs: number;
}

/** The hooks of one call, returned by {@link UpstreamObserver.callStarted}. */
export interface UpstreamCallObserver {
  /** Extra headers every attempt of this call sends (the W3C `traceparent`). */
  readonly headers?: Readonly<Record<string, string>>;
  attemptEnded(attempt: UpstreamAttemptInfo): void;
  ended(end: UpstreamCallEnd): void;
}

/**
 * What the upstream client reports about its traffic, for metrics, traces and per-operation logs. Injected
 * (`UpstreamOptions.observer`): the client knows nothing of Prometheus or OpenTelemetry, and without an
 * observer it reports nothing.
 */
export interface UpstreamObserver {
  /**
   * A call is about to run (before its first attempt, and before the budget is asked). Runs in the caller's
   * async context (a trace's parent span). Returns the call's hooks, or nothing.
   */
  callStarted(call: UpstreamCallInfo): UpstreamCallObserver | undefined;
  /** A GET joined an identical one already in flight: no request was sent for it. */
  deduplicated(route: string): void;
}

/** Several observers as one: each sees every event; their `headers` are merged in order. */
export function combineObservers(observers: readonly UpstreamObserver[]): UpstreamObserver | undefined {
  if (observers.length === 0) return undefined;
  if (observers.length === 1) return observers[0];
  return {
    callStarted(call) {
      const started = observers.flatMap((o) => {
        const hooks = o.callStarted(call);
        return hooks ? [hooks] : [];
      });
      if (started.length === 0) return undefined;
      if (started.length === 1) return started[0];
      const headers = Object.assign({}, ...started.map((s) => s.headers ?? {})) as Record<string, string>;
      return {
        headers,
        attemptEnded: (attempt) => started.forEach((s) => s.attemptEnded(attempt)),
        ended: (end) => started.forEach((s) => s.ended(end)),
      };
    },
    deduplicated: (route) => observers.forEach((o) => o.deduplicated(route)),
  };
}
