import { toGraphQLError } from '../schema/upstream-errors.js';
import * as upstream from '../upstream/errors.js';
import {
  InstanceAlreadyExistsError,
  InstanceNotFoundError,
  RateLimitedError,
  UpstreamError,
  WorkflowNotFoundError,
} from './errors.js';

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
  if (error instanceof upstream.AuthenticationError || error instanceof upstream.AbortedError)
    return toGraphQLError(error);
  const codes = error.errors.map((e) => e.code);
  if (error instanceof upstream.NotFoundError) {
    if (error.resource === 'instance' && target.instanceId !== undefined) {
      return new InstanceNotFoundError(target.workflowName, target.instanceId);
    }
    if (error.resource === 'workflow') return new WorkflowNotFoundError(target.workflowName);
  }
  if (error instanceof upstream.AlreadyExistsError && target.instanceId !== undefined) {
    return new InstanceAlreadyExistsError(target.workflowName, target.instanceId);
  }
  if (error instanceof upstream.RateLimitedError) return new RateLimitedError(error.retryAfterMs);
  if (isOutcomeUnknown(error)) {
    return new UpstreamError(
      'The connection to the Workflows API failed after the request was sent: it may or may not have taken effect. ' +
        'Query the instance to find out before trying again.',
      'OUTCOME_UNKNOWN',
      false,
      error.status,
      codes,
    );
  }
  if (error instanceof upstream.TimeoutError) {
    return new UpstreamError(
      'The Workflows API did not answer in time; try again later.',
      'TIMEOUT',
      true,
      error.status,
      codes,
    );
  }
  if (error instanceof upstream.UnavailableError) {
    return new UpstreamError(
      'The Workflows API is unavailable; try again later.',
      'UNAVAILABLE',
      true,
      error.status,
      codes,
    );
  }
  if (error instanceof upstream.BadRequestError) {
    return new UpstreamError(
      'The Workflows API refused the request as invalid.',
      'REFUSED',
      false,
      error.status,
      codes,
    );
  }
  const refused = error.status !== null && error.status < 500;
  return new UpstreamError(
    refused ? `The Workflows API refused the request (HTTP ${error.status}).` : 'The Workflows API failed.',
    refused ? 'REFUSED' : 'INTERNAL',
    error.retryable,
    error.status,
    codes,
  );
}
