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
    // Once per upstream call: no array or closure is made unless two observers or more answer.
    callStarted(call) {
      let first: UpstreamCallObserver | undefined;
      let started: UpstreamCallObserver[] | undefined;
      for (const observer of observers) {
        const hooks = observer.callStarted(call);
        if (hooks === undefined) continue;
        if (first === undefined) first = hooks;
        else (started ??= [first]).push(hooks);
      }
      return started === undefined ? first : new CombinedCallObserver(started);
    },
    deduplicated(route) {
      for (const observer of observers) observer.deduplicated(route);
    },
  };
}

/** The hooks of one call that several observers watch; their `headers` merged in order. */
class CombinedCallObserver implements UpstreamCallObserver {
  readonly headers?: Readonly<Record<string, string>>;

  constructor(private readonly started: readonly UpstreamCallObserver[]) {
    const headers = started.flatMap((hooks) => (hooks.headers ? [hooks.headers] : []));
    if (headers.length > 0) this.headers = Object.assign({}, ...headers) as Record<string, string>;
  }

  attemptEnded(attempt: UpstreamAttemptInfo): void {
    for (const hooks of this.started) hooks.attemptEnded(attempt);
  }

  ended(end: UpstreamCallEnd): void {
    for (const hooks of this.started) hooks.ended(end);
  }
}
