/**
 * Every way a call to the Workflows REST API can fail, as one family of classes. The client is the only
 * place that creates them: it turns HTTP statuses, Cloudflare's `{ success, errors[] }` envelope and
 * transport failures into the subclass a caller can branch on (`instanceof` or the stable `code`).
 *
 * Secrets: messages carry our own wording plus Cloudflare's error messages, never request headers or raw
 * bodies; `cause` is always a sanitised copy of the underlying error (see {@link sanitizeCause}), so no
 * chain of causes can reach the Authorization header.
 */

import type { CredentialSource } from './types.js';

/** One entry of the v4 envelope's `errors` array. */
export interface CloudflareErrorEntry {
  readonly code: number;
  readonly message: string;
}

export type UpstreamErrorCode =
  | 'UPSTREAM_ERROR'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'INVALID_TRANSITION'
  | 'BAD_REQUEST'
  | 'AUTHENTICATION_FAILED'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'PROTOCOL_ERROR'
  | 'ABORTED';

export interface UpstreamErrorDetails {
  /** HTTP status of the upstream answer; null when none arrived (network failure, local refusal). */
  readonly status?: number | null;
  readonly errors?: readonly CloudflareErrorEntry[];
  readonly cfRay?: string | null;
  readonly retryable?: boolean;
  readonly cause?: unknown;
}

/** Base class: also used as is for upstream answers no subclass describes (an unexpected 4xx). */
export class UpstreamError extends Error {
  override readonly name: string = 'UpstreamError';
  readonly code: UpstreamErrorCode = 'UPSTREAM_ERROR';
  readonly status: number | null;
  /** Cloudflare's error entries, as sent (messages are capped in length). */
  readonly errors: readonly CloudflareErrorEntry[];
  /** The `cf-ray` id of the failing answer, for Cloudflare support. */
  readonly cfRay: string | null;
  /** Whether sending the same request again may succeed. */
  readonly retryable: boolean;

  constructor(message: string, details: UpstreamErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status ?? null;
    this.errors = details.errors ?? [];
    this.cfRay = details.cfRay ?? null;
    this.retryable = details.retryable ?? false;
  }

  /** What logs and GraphQL extensions may show; deliberately without `cause` and stack. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      status: this.status,
      errors: this.errors,
      cfRay: this.cfRay,
      retryable: this.retryable,
    };
  }
}

export type NotFoundResource = 'workflow' | 'instance' | 'version' | 'step' | 'unknown';

/** The workflow, instance, version or step does not exist (404, codes 10200 / 10400). */
export class NotFoundError extends UpstreamError {
  override readonly name = 'NotFoundError';
  override readonly code = 'NOT_FOUND';
  constructor(
    message: string,
    readonly resource: NotFoundResource,
    details: UpstreamErrorDetails = {},
  ) {
    super(message, details);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), resource: this.resource };
  }
}

/** An instance with this id already exists within its retention period (code 10405). */
export class AlreadyExistsError extends UpstreamError {
  override readonly name = 'AlreadyExistsError';
  override readonly code = 'ALREADY_EXISTS';
}

/**
 * Upstream refused a status change from the instance's current status (409, `instance.cannot_*`). Named
 * apart from the mutation outcome `InvalidTransitionError` (`errors/mutation-errors.ts`) built from it.
 */
export class UpstreamInvalidTransitionError extends UpstreamError {
  override readonly name = 'UpstreamInvalidTransitionError';
  override readonly code = 'INVALID_TRANSITION';
}

/** The request was rejected as invalid (400 / 422), or we refused to send it because it could not be valid. */
export class BadRequestError extends UpstreamError {
  override readonly name = 'BadRequestError';
  override readonly code = 'BAD_REQUEST';
}

/** The API token was not recognised or not allowed (401 / 403, codes 9106 / 10000). */
export class AuthenticationError extends UpstreamError {
  override readonly name = 'AuthenticationError';
  override readonly code = 'AUTHENTICATION_FAILED';
  constructor(
    message: string,
    details: UpstreamErrorDetails = {},
    /**
     * Whose credential was refused: the server's own (a deployment problem, not the client's) or one a client
     * brought (`AUTH_MODE=cloudflare-token`, the client's to fix).
     */
    readonly credentialSource: CredentialSource = 'server',
  ) {
    super(message, details);
  }
}

/** Whole seconds to wait for `ms`, rounded up and at least 1, so that retrying then is never early. */
export const retryAfterSeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

/**
 * Too many requests: either upstream answered 429 (`source: 'upstream'`) or this credential's request
 * budget is spent and the request was never sent (`source: 'budget'`). Named apart from the mutation
 * outcome `RateLimitedError` (`errors/mutation-errors.ts`) built from it.
 */
export class UpstreamRateLimitedError extends UpstreamError {
  override readonly name = 'UpstreamRateLimitedError';
  override readonly code = 'RATE_LIMITED';
  constructor(
    message: string,
    /**
     * How long to wait before a new attempt can succeed: upstream's `Retry-After`, else its `Ratelimit`
     * reset time, else our budget's estimate of when the next request token is available.
     */
    readonly retryAfterMs: number,
    readonly source: 'upstream' | 'budget',
    details: UpstreamErrorDetails = {},
  ) {
    super(message, details);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), retryAfterMs: this.retryAfterMs, source: this.source };
  }
}

/**
 * Upstream could not be reached or failed (network error, 5xx, 408). `retryable` is false when a write may
 * have been executed before the connection broke: its outcome is unknown and it must not be blindly replayed.
 */
export class UnavailableError extends UpstreamError {
  override readonly name: string = 'UnavailableError';
  override readonly code: UpstreamErrorCode = 'UNAVAILABLE';
}

export type TimeoutPhase = 'connect' | 'headers' | 'body';

/** A configured timeout elapsed while connecting, waiting for headers, or between body chunks. */
export class TimeoutError extends UnavailableError {
  override readonly name = 'TimeoutError';
  override readonly code = 'TIMEOUT';
  constructor(
    message: string,
    readonly phase: TimeoutPhase,
    details: UpstreamErrorDetails = {},
  ) {
    super(message, details);
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), phase: this.phase };
  }
}

/** Upstream answered something we cannot use: not JSON, a wrong shape, a truncated or oversized body. */
export class UpstreamProtocolError extends UpstreamError {
  override readonly name = 'UpstreamProtocolError';
  override readonly code = 'PROTOCOL_ERROR';
}

/** The caller's AbortSignal fired before the call finished. */
export class AbortedError extends UpstreamError {
  override readonly name = 'AbortedError';
  override readonly code = 'ABORTED';
}

/**
 * Copies the parts of an underlying error worth keeping (name, code, message, stack) into a fresh `Error`,
 * with every secret replaced. undici errors can reference sockets and request state; copying instead of
 * chaining guarantees no header (and so no token) is reachable from our errors.
 */
export function sanitizeCause(error: unknown, secrets: readonly string[]): Error {
  const source = error instanceof Error ? error : new Error(String(error));
  const copy = new Error(redact(source.message, secrets));
  copy.name = source.name;
  const code = (source as { code?: unknown }).code;
  if (typeof code === 'string') Object.defineProperty(copy, 'code', { value: code, enumerable: true });
  copy.stack = redact(source.stack ?? `${source.name}: ${source.message}`, secrets);
  return copy;
}

/** Replaces each secret (at least 4 characters long) in `text`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('[REDACTED]');
  return out;
}
