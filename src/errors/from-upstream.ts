import * as upstream from '../upstream/errors.js';
import { badUserInput, codedError } from './coded-error.js';
import { ShuttingDownError, subscriptionRefusedError } from './subscription-errors.js';
import {
  ForbiddenError,
  InstanceAlreadyExistsError,
  InstanceNotFoundError,
  RateLimitedError,
  UpstreamFailureError,
  WorkflowNotFoundError,
} from './mutation-errors.js';

/**
 * What clients are told about failures of the upstream client (`upstream/errors.ts`): as coded GraphQL
 * errors for reads ({@link toGraphQLError}, {@link orNull}, {@link mapped}), as typed outcomes for
 * mutations ({@link toMutationError}).
 */

const isGraphQLError = (error: unknown): boolean => error instanceof Error && error.name === 'GraphQLError';

function cloudflareErrors(error: upstream.UpstreamError): { code: number; message: string }[] {
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
  if (isGraphQLError(error) || !(error instanceof upstream.UpstreamError)) return error;
  if (error instanceof upstream.UpstreamRateLimitedError) {
    const retryAfter = upstream.retryAfterSeconds(error.retryAfterMs);
    return codedError(`The Workflows API rate limit is exhausted; retry in ${retryAfter} s.`, 'RATE_LIMITED', {
      retryAfter,
    });
  }
  if (error instanceof upstream.TimeoutError || error instanceof upstream.UnavailableError) {
    return codedError(
      'The Workflows API is unavailable or did not answer in time; try again later.',
      'UPSTREAM_UNAVAILABLE',
    );
  }
  if (error instanceof upstream.BadRequestError) {
    const detail = error.errors.map((e) => e.message).join('; ');
    return badUserInput(`The Workflows API rejected the request${detail ? `: ${detail}` : ''}`, {
      cloudflareErrors: cloudflareErrors(error),
    });
  }
  if (error instanceof upstream.AuthenticationError && error.credentialSource === 'client') {
    // The client's own Cloudflare token (`AUTH_MODE=cloudflare-token`): Cloudflare's verdict is the client's to act on.
    return error.status === 403
      ? codedError('The Workflows API refused this Cloudflare token the permission for this request.', 'FORBIDDEN', {
          requiredScope: null,
          workflowName: null,
        })
      : codedError('The Workflows API did not accept this Cloudflare token or account id.', 'UNAUTHENTICATED');
  }
  const what =
    error instanceof upstream.AuthenticationError
      ? 'The Workflows API refused the gateway credentials'
      : error instanceof upstream.NotFoundError
        ? 'The Workflows API no longer knows the requested resource'
        : `The Workflows API answered with an error (${error.code})`;
  return codedError(`${what}.`, 'UPSTREAM_ERROR', { status: error.status, cloudflareErrors: cloudflareErrors(error) });
}

/**
 * What the error that ends a subscription watching a workflow or one of its instances answers: `null` when
 * what it watches does not exist (or no longer does), as `instance` and `workflow` answer `null`; the
 * retryable `SHUTTING_DOWN` when the server stops; {@link toGraphQLError}'s mapping of any other failure.
 */
export function watchEnd(error: unknown): null {
  if (error instanceof upstream.NotFoundError) return null;
  if (error instanceof ShuttingDownError) throw subscriptionRefusedError(error);
  throw toGraphQLError(error);
}

/** Runs an upstream read, mapping failures with {@link toGraphQLError}; `NotFoundError` becomes `null`. */
export async function orNull<T>(read: () => Promise<T>): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof upstream.NotFoundError) return null;
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

/** What a mutation was acting on, so that a bare "not found" can name it. */
export interface Target {
  readonly workflowName: string;
  readonly instanceId?: string;
}

/**
 * True when a request failed in a way that leaves its effect unknown: it was (or may have been) sent and
 * no answer came back. The client never replays such requests; callers decide whether they can check.
 */
export function isOutcomeUnknown(error: unknown): boolean {
  // A garbled answer to a write may still mean the write happened.
  return (
    (error instanceof upstream.UnavailableError && !error.retryable) || error instanceof upstream.UpstreamProtocolError
  );
}

/**
 * Turns a failed upstream call into the mutation outcome a client can act on. Failures no client of a
 * mutation can act on (the gateway's own credentials refused, a cancelled call) become the read API's coded
 * GraphQL errors; errors that do not come from the upstream client (bugs) are returned unchanged, so they
 * end up masked like any other crash.
 */
export function toMutationError(error: unknown, target: Target): unknown {
  if (!(error instanceof upstream.UpstreamError)) return error;
  if (error instanceof upstream.AuthenticationError && error.credentialSource === 'client' && error.status === 403) {
    return new ForbiddenError(
      'The Workflows API refused this Cloudflare token the permission to make this change.',
      null,
      target.workflowName,
    );
  }
  if (error instanceof upstream.AuthenticationError || error instanceof upstream.AbortedError)
    return toGraphQLError(error);
  const codes = error.errors.map((e) => e.code);
  const instanceId = target.instanceId ?? null;
  if (error instanceof upstream.NotFoundError) {
    if (error.resource === 'instance' && target.instanceId !== undefined) {
      return new InstanceNotFoundError(target.workflowName, target.instanceId);
    }
    if (error.resource === 'workflow') return new WorkflowNotFoundError(target.workflowName);
  }
  if (error instanceof upstream.AlreadyExistsError && target.instanceId !== undefined) {
    return new InstanceAlreadyExistsError(target.workflowName, target.instanceId);
  }
  if (error instanceof upstream.UpstreamRateLimitedError)
    return new RateLimitedError(upstream.retryAfterSeconds(error.retryAfterMs));
  if (isOutcomeUnknown(error)) {
    return new UpstreamFailureError(
      'The connection to the Workflows API failed after the request was sent: it may or may not have taken effect. ' +
        'Query the instance named by `targetInstanceId` to find out before trying again.',
      'OUTCOME_UNKNOWN',
      false,
      error.status,
      codes,
      instanceId,
    );
  }
  if (error instanceof upstream.TimeoutError) {
    return new UpstreamFailureError(
      'The Workflows API did not answer in time; try again later.',
      'TIMEOUT',
      true,
      error.status,
      codes,
      instanceId,
    );
  }
  if (error instanceof upstream.UnavailableError) {
    return new UpstreamFailureError(
      'The Workflows API is unavailable; try again later.',
      'UNAVAILABLE',
      true,
      error.status,
      codes,
      instanceId,
    );
  }
  if (error instanceof upstream.BadRequestError) {
    return new UpstreamFailureError(
      'The Workflows API refused the request as invalid.',
      'REFUSED',
      false,
      error.status,
      codes,
      instanceId,
    );
  }
  const refused = error.status !== null && error.status < 500;
  return new UpstreamFailureError(
    refused ? `The Workflows API refused the request (HTTP ${error.status}).` : 'The Workflows API failed.',
    refused ? 'REFUSED' : 'INTERNAL',
    error.retryable,
    error.status,
    codes,
    instanceId,
  );
}
