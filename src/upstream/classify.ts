/**
 * Turns what came back (an HTTP status with Cloudflare's error entries, or a transport failure) into the
 * matching `UpstreamError`. Retryability is decided here, per method: reads are retryable on any transient
 * failure; writes only when the request provably never reached upstream (connection refused, 429).
 */
import type { CredentialSource } from './types.js';
import {
  AlreadyExistsError,
  AuthenticationError,
  BadRequestError,
  UpstreamInvalidTransitionError,
  NotFoundError,
  UpstreamRateLimitedError,
  TimeoutError,
  UnavailableError,
  UpstreamError,
  UpstreamProtocolError,
  redact,
  sanitizeCause,
  type CloudflareErrorEntry,
  type NotFoundResource,
} from './errors.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface CallDescription {
  readonly method: Method;
  /** Route template, e.g. `GET /workflows/{name}`: names no user data, so it is safe in any message. */
  readonly route: string;
  /** What a 404 without a telling Cloudflare code means on this route, when only one thing can be missing. */
  readonly notFound?: NotFoundResource;
  /** Strings that must never appear in an error (the API token). */
  readonly secrets: readonly string[];
  /** Whose credential the call carries, for an authentication failure to say. */
  readonly credentialSource: CredentialSource;
}

export interface ResponseFacts {
  readonly status: number;
  readonly errors: readonly CloudflareErrorEntry[];
  readonly cfRay: string | null;
  /** Upstream's Retry-After (or Ratelimit reset) in ms, when it sent one. */
  readonly retryAfterMs: number | null;
  /** Our estimate when upstream did not say. */
  readonly fallbackRetryAfterMs: number;
}

const CF_AUTH_FAILED = 9106;
const CF_AUTH_ERROR = 10000;
const CF_INTERNAL = 10001;
const CF_WORKFLOW_NOT_FOUND = 10200;
const CF_INSTANCE_NOT_FOUND = 10400;
const CF_INSTANCE_EXISTS = 10405;
/** The local explorer's "workflow not found". */
const CF_LOCAL_WORKFLOW_NOT_FOUND = 10501;

function has(errors: readonly CloudflareErrorEntry[], code: number): boolean {
  return errors.some((e) => e.code === code);
}

function mentions(errors: readonly CloudflareErrorEntry[], pattern: RegExp): boolean {
  return errors.some((e) => pattern.test(e.message));
}

function notFoundResource(
  errors: readonly CloudflareErrorEntry[],
  hint: NotFoundResource | undefined,
): NotFoundResource {
  if (
    has(errors, CF_WORKFLOW_NOT_FOUND) ||
    has(errors, CF_LOCAL_WORKFLOW_NOT_FOUND) ||
    mentions(errors, /workflow[._ ]not[._ ]found/i)
  ) {
    return 'workflow';
  }
  if (has(errors, CF_INSTANCE_NOT_FOUND) || mentions(errors, /instance[._ ]not[._ ]found/i)) return 'instance';
  if (mentions(errors, /version[._ ]not[._ ]found/i)) return 'version';
  if (mentions(errors, /step[._ ]not[._ ]found/i)) return 'step';
  return hint ?? 'unknown';
}

function isWrite(method: Method): boolean {
  return method !== 'GET';
}

/** Maps an upstream answer that is not a success (a non-2xx status, or `success: false`). */
export function errorFromResponse(call: CallDescription, facts: ResponseFacts): UpstreamError {
  const { status, errors } = facts;
  const detail = errors
    .map((e) => (e.code ? `${redact(e.message, call.secrets)} [${e.code}]` : redact(e.message, call.secrets)))
    .filter((m) => m !== '')
    .join('; ');
  const message = `${call.route} failed with HTTP ${status}${detail ? `: ${detail}` : ''}`;
  const safeErrors = errors.map((e) => ({ code: e.code, message: redact(e.message, call.secrets) }));
  const details = { status, errors: safeErrors, cfRay: facts.cfRay };

  if (status === 401 || status === 403 || has(errors, CF_AUTH_FAILED) || (has(errors, CF_AUTH_ERROR) && status < 500)) {
    return new AuthenticationError(message, details, call.credentialSource);
  }
  if (status === 429) {
    // A 429 was refused before execution, so even writes may be sent again.
    return new UpstreamRateLimitedError(message, facts.retryAfterMs ?? facts.fallbackRetryAfterMs, 'upstream', {
      ...details,
      retryable: true,
    });
  }
  if (has(errors, CF_INSTANCE_EXISTS) || mentions(errors, /already[._ ]exists/i))
    return new AlreadyExistsError(message, details);
  // A refused change, or an event to an instance that has finished (docs/upstream-contract.md §1.2 and §5).
  if (
    status === 409 ||
    mentions(errors, /cannot[._](pause|resume|terminate|restart|send[._]event)/i) ||
    mentions(errors, /instance[._]not[._]running/i)
  ) {
    return new UpstreamInvalidTransitionError(message, details);
  }
  if (
    status === 404 ||
    has(errors, CF_WORKFLOW_NOT_FOUND) ||
    has(errors, CF_INSTANCE_NOT_FOUND) ||
    mentions(errors, /not[._]found/i)
  ) {
    return new NotFoundError(message, notFoundResource(errors, call.notFound), details);
  }
  if (status === 400 || status === 422) return new BadRequestError(message, details);
  if (status === 408 || status >= 500 || has(errors, CF_INTERNAL)) {
    if (isWrite(call.method)) {
      return new UnavailableError(`${message}; the outcome of this ${call.method} is unknown, so it was not repeated`, {
        ...details,
        retryable: false,
      });
    }
    return new UnavailableError(message, { ...details, retryable: true });
  }
  return new UpstreamError(message, details);
}

/** Errors raised while connecting that prove the request never reached upstream. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

function codesOf(error: unknown, depth = 0): string[] {
  if (depth > 4 || typeof error !== 'object' || error === null) return [];
  const out: string[] = [];
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string') out.push(code);
  out.push(...codesOf(cause, depth + 1));
  // Happy-eyeballs connects fail with an AggregateError of one error per address.
  if (Array.isArray(errors)) for (const inner of errors) out.push(...codesOf(inner, depth + 1));
  return out;
}

/** Maps a failure before any response header arrived. */
export function errorFromTransport(call: CallDescription, error: unknown): UpstreamError {
  const codes = codesOf(error);
  const cause = sanitizeCause(error, call.secrets);
  const write = isWrite(call.method);
  const unknownOutcome = `; the outcome of this ${call.method} is unknown, so it was not repeated`;
  if (codes.includes('UND_ERR_CONNECT_TIMEOUT')) {
    return new TimeoutError(`${call.route}: connecting to upstream timed out`, 'connect', { cause, retryable: true });
  }
  if (codes.includes('UND_ERR_HEADERS_TIMEOUT')) {
    return new TimeoutError(`${call.route}: upstream did not answer in time${write ? unknownOutcome : ''}`, 'headers', {
      cause,
      retryable: !write,
    });
  }
  // The connection was refused or never established, so nothing was sent.
  if (codes.some((c) => NOT_SENT_CODES.has(c))) {
    return new UnavailableError(`${call.route}: upstream is unreachable (${codes[0] ?? 'connection failed'})`, {
      cause,
      retryable: true,
    });
  }
  const what = codes[0] ?? cause.name;
  return new UnavailableError(
    `${call.route}: the connection to upstream failed (${what})${write ? unknownOutcome : ''}`,
    {
      cause,
      retryable: !write,
    },
  );
}

/** Maps a failure while the body of an answer with `status` was being read. */
export function errorFromBody(call: CallDescription, status: number, error: unknown): UpstreamError {
  const codes = codesOf(error);
  const cause = sanitizeCause(error, call.secrets);
  const write = isWrite(call.method);
  const executed =
    write && status < 300 ? `; the ${call.method} was executed (HTTP ${status}) but its result is unknown` : '';
  if (codes.includes('BODY_TOO_LARGE')) {
    return new UpstreamProtocolError(`${call.route}: the response body is too large (${cause.message})${executed}`, {
      status,
      cause,
    });
  }
  if (codes.includes('UND_ERR_BODY_TIMEOUT')) {
    return new TimeoutError(`${call.route}: upstream stopped sending the response body${executed}`, 'body', {
      status,
      cause,
      retryable: !write,
    });
  }
  return new UpstreamProtocolError(
    `${call.route}: the response body was cut off (${codes[0] ?? cause.name})${executed}`,
    {
      status,
      cause,
      retryable: !write,
    },
  );
}
