import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Method } from './classify.js';

/** Larger answers are refused rather than buffered: a full step log of 10,000 steps stays well below. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface Attempt {
  readonly dispatcher: Dispatcher;
  readonly method: Method;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
  readonly signal: AbortSignal | undefined;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Reads the whole body; rejects on a cut-off, a body timeout or more than {@link MAX_BODY_BYTES}. */
  readonly readBody: () => Promise<Buffer>;
}

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  readonly code = 'BODY_TOO_LARGE';
  constructor() {
    super(`response body larger than ${MAX_BODY_BYTES} bytes`);
  }
}

/**
 * Sends one HTTP request; resolves once headers arrived. Never throws for an HTTP status.
 *
 * Goes through `dispatch` with a handler that buffers the body itself rather than through `request()`:
 * every upstream answer is read whole, so `request()`'s body stream (a Readable, its events and its
 * ticks per answer) was pure overhead, the largest of the client's own costs on a 50-instance fan-out.
 */
export function send(attempt: Attempt): Promise<Answer> {
  const { origin, path } = splitUrl(attempt.url);
  return new Promise<Answer>((resolve, reject) => {
    const exchange = new Exchange(resolve, reject, attempt.signal);
    if (attempt.signal?.aborted) {
      exchange.fail(abortReason(attempt.signal));
      return;
    }
    try {
      attempt.dispatcher.dispatch(
        {
          origin,
          path,
          method: attempt.method,
          headers: attempt.headers,
          body: attempt.body ?? null,
          headersTimeout: attempt.headersTimeoutMs,
          bodyTimeout: attempt.bodyTimeoutMs,
          // undici holds a connection's next request until this one's headers arrive unless told the answer is
          // quick: reads are, so that UPSTREAM_PIPELINING > 1 really puts several on one connection (writes are
          // never pipelined: undici sends a non-idempotent request only on an idle connection).
          blocking: attempt.method !== 'GET',
        },
        exchange,
      );
    } catch (error) {
      exchange.fail(error);
    }
  });
}

/** `http://host:port/a/b?q` → origin and path, without a full URL parse for the URLs the client builds. */
function splitUrl(url: string): { origin: string; path: string } {
  const scheme = url.indexOf('://');
  const slash = scheme === -1 ? -1 : url.indexOf('/', scheme + 3);
  if (slash === -1 || url.lastIndexOf('@', slash) > scheme) {
    const parsed = new URL(url);
    return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
  }
  return { origin: url.slice(0, slash), path: url.slice(slash) };
}

const abortReason = (signal: AbortSignal): Error =>
  signal.reason instanceof Error ? signal.reason : new DOMException('This operation was aborted', 'AbortError');

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * One request and its answer: settles the `send` promise on the headers (or on an error before them),
 * then buffers the body until it ends, fails or passes {@link MAX_BODY_BYTES}.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private started = false;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  /** The whole body once ended, or why it never will be. */
  private outcome: { ok: true; body: Buffer } | { ok: false; error: Error } | undefined;
  private waiter: { resolve: (body: Buffer) => void; reject: (error: Error) => void } | undefined;
  private readonly onAbort = () => {
    if (this.signal) this.abort(abortReason(this.signal));
  };

  constructor(
    private readonly resolveAnswer: (answer: Answer) => void,
    private readonly rejectAnswer: (error: Error) => void,
    private readonly signal: AbortSignal | undefined,
  ) {
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.signal?.aborted) controller.abort(abortReason(this.signal));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.started = true;
    this.resolveAnswer({ status: statusCode, headers, readBody: () => this.readBody() });
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.outcome) return;
    this.size += chunk.length;
    if (this.size > MAX_BODY_BYTES) {
      this.abort(new BodyTooLargeError());
      return;
    }
    this.chunks.push(chunk);
  }

  onResponseEnd(): void {
    const { chunks, size } = this;
    const body = chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size);
    this.settle({ ok: true, body });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(error);
  }

  /** Fails the request at whatever stage it is in; the first failure wins. */
  fail(error: unknown): void {
    const reason = asError(error);
    if (!this.started) {
      this.started = true;
      this.signal?.removeEventListener('abort', this.onAbort);
      this.outcome = { ok: false, error: reason };
      this.rejectAnswer(reason);
      return;
    }
    this.settle({ ok: false, error: reason });
  }

  private abort(reason: Error): void {
    if (this.controller && !this.controller.aborted) this.controller.abort(reason);
    // Without a controller yet, or once undici is done with the request, the failure is ours to report.
    this.fail(reason);
  }

  private settle(outcome: { ok: true; body: Buffer } | { ok: false; error: Error }): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.chunks.length = 0;
    this.signal?.removeEventListener('abort', this.onAbort);
    const waiter = this.waiter;
    this.waiter = undefined;
    if (!waiter) return;
    if (outcome.ok) waiter.resolve(outcome.body);
    else waiter.reject(outcome.error);
  }

  private readBody(): Promise<Buffer> {
    const { outcome } = this;
    if (outcome) return outcome.ok ? Promise.resolve(outcome.body) : Promise.reject(outcome.error);
    if (this.waiter) return Promise.reject(new Error('the response body is already being read'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
