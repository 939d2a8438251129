import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import {
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  RateLimitedError,
  TimeoutError,
  UnavailableError,
  UpstreamError,
} from '../upstream/errors.js';

/** The `extensions.code` values a client can branch on. */
export type UpstreamErrorCode = 'UPSTREAM_UNAVAILABLE' | 'RATE_LIMITED' | 'UPSTREAM_ERROR' | 'BAD_USER_INPUT';

/**
 * A GraphQL error with `extensions.code`. Built with yoga's `createGraphQLError` so that it is an instance
 * of the same `GraphQLError` class yoga's masking checks, even where a test runner loads `graphql` twice
 * (ESM and CommonJS builds); an error of the other copy would be masked as unexpected.
 */
export function codedError(message: string, code: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return createGraphQLError(message, { extensions: { code, ...extensions } });
}

/** A GraphQL error for input the gateway refuses before asking upstream. */
export function badUserInput(message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return codedError(message, 'BAD_USER_INPUT', extensions);
}

/** For a thing that was referenced (listed, linked) but has vanished by the time its data is read. */
export function vanished(what: string): GraphQLError {
  return codedError(`${what} no longer exists.`, 'NOT_FOUND');
}

const isGraphQLError = (error: unknown): boolean => error instanceof Error && error.name === 'GraphQLError';

function cloudflareErrors(error: UpstreamError): { code: number; message: string }[] {
  // Only Cloudflare's own code + message pairs travel: never bodies, headers or the request.
  return error.errors.map(({ code, message }) => ({ code, message }));
}

/**
 * Turns an upstream failure into a GraphQL error whose `extensions.code` clients can branch on. The
 * message is ours, not the upstream body's, so masking never has to hide it; the original error stays
 * out of the response (it is not passed as `originalError`, whose stack yoga would print in dev mode).
 * Anything that is not an `UpstreamError` is a bug and is returned unchanged, for yoga to mask.
 */
export function toGraphQLError(error: unknown): unknown {
  if (isGraphQLError(error) || !(error instanceof UpstreamError)) return error;
  if (error instanceof RateLimitedError) {
    const retryAfter = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
    return codedError(`The Workflows API rate limit is exhausted; retry in ${retryAfter} s.`, 'RATE_LIMITED', {
      retryAfter,
    });
  }
  if (error instanceof TimeoutError || error instanceof UnavailableError) {
    return codedError(
      'The Workflows API is unavailable or did not answer in time; try again later.',
      'UPSTREAM_UNAVAILABLE',
    );
  }
  if (error instanceof BadRequestError) {
    const detail = error.errors.map((e) => e.message).join('; ');
    return badUserInput(`The Workflows API rejected the request${detail ? `: ${detail}` : ''}`, {
      cloudflareErrors: cloudflareErrors(error),
    });
  }
  const what =
    error instanceof AuthenticationError
      ? 'The Workflows API refused the gateway credentials'
      : error instanceof NotFoundError
        ? 'The Workflows API no longer knows the requested resource'
        : `The Workflows API answered with an error (${error.code})`;
  return codedError(`${what}.`, 'UPSTREAM_ERROR', { status: error.status, cloudflareErrors: cloudflareErrors(error) });
}

/** Runs an upstream read, mapping failures with {@link toGraphQLError}; `NotFoundError` becomes `null`. */
export async function orNull<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof NotFoundError) return null;
    throw toGraphQLError(error);
  }
}

/** Runs an upstream read, mapping every failure (not found included) with {@link toGraphQLError}. */
export async function mapped<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw toGraphQLError(error);
  }
}
