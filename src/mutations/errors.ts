import type { InstanceAction, InstanceStatus } from '../upstream/types.js';

/**
 * The expected, client-actionable outcomes of mutations. Each class is registered as a GraphQL object type
 * of the same name in `schema/errors.ts` and listed in the `errors` option of the mutations that can
 * produce it; anything else a resolver throws stays a (masked) GraphQL error.
 *
 * Messages are written for API clients: they never contain upstream bodies or credentials.
 */

/** An action the `InvalidTransitionError` can name: the four status changes, plus delivering an event. */
export type MutationAction = InstanceAction | 'sendEvent';

export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError';
  /** Path of the offending input field from the argument down, e.g. `['input', 'instances', '3', 'instanceId']`. */
  readonly path: readonly string[];
  constructor(message: string, path: readonly string[]) {
    super(message);
    this.path = path;
  }
}

export class WorkflowNotFoundError extends Error {
  override readonly name = 'WorkflowNotFoundError';
  constructor(readonly workflowName: string) {
    super(`Workflow "${workflowName}" does not exist.`);
  }
}

export class InstanceNotFoundError extends Error {
  override readonly name = 'InstanceNotFoundError';
  constructor(
    readonly workflowName: string,
    readonly instanceId: string,
  ) {
    super(`Workflow "${workflowName}" has no instance "${instanceId}".`);
  }
}

export class InstanceAlreadyExistsError extends Error {
  override readonly name = 'InstanceAlreadyExistsError';
  constructor(
    readonly workflowName: string,
    readonly instanceId: string,
  ) {
    super(
      `Workflow "${workflowName}" already has an instance "${instanceId}" (ids stay taken for the retention period of ` +
        'the earlier instance); choose another id, or restart the existing instance.',
    );
  }
}

export class InvalidTransitionError extends Error {
  override readonly name = 'InvalidTransitionError';
  constructor(
    readonly workflowName: string,
    readonly instanceId: string,
    readonly currentStatus: InstanceStatus,
    readonly action: MutationAction,
    /** Why the status is known: from our own records before any call, or looked up after the upstream refused. */
    readonly statusSource: 'known' | 'upstream' | 'fetchedAfterRefusal',
  ) {
    const suffix =
      statusSource === 'known'
        ? ''
        : statusSource === 'upstream'
          ? ' The upstream API refused the change.'
          : ' The upstream API refused the change; the current status was fetched after the refusal.';
    super(
      `Cannot ${describeAction(action)} instance "${instanceId}" of workflow "${workflowName}" while it is ${currentStatus}.${suffix}`,
    );
  }
}

export class RateLimitedError extends Error {
  override readonly name = 'RateLimitedError';
  /** Whole seconds to wait before retrying, rounded up. */
  readonly retryAfter: number;
  constructor(retryAfterMs: number) {
    const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(`The Workflows API rate limit was reached; retry in ${retryAfter} s.`);
    this.retryAfter = retryAfter;
  }
}

/**
 * Stable codes of {@link UpstreamError}: what went wrong between the gateway and the Workflows API.
 * `OUTCOME_UNKNOWN` means the request may or may not have taken effect.
 */
export type UpstreamErrorCode = 'UNAVAILABLE' | 'TIMEOUT' | 'OUTCOME_UNKNOWN' | 'REFUSED' | 'INTERNAL';

/** The fallback for upstream failures that have no more specific type. */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';
  constructor(
    message: string,
    readonly code: UpstreamErrorCode,
    /** True when sending the same mutation again is safe and may succeed. */
    readonly retryable: boolean,
    /** HTTP status of the upstream answer; null when there was none (timeout, broken connection). */
    readonly status: number | null,
    /** Cloudflare error codes from the answer's envelope (e.g. 10001). */
    readonly upstreamCodes: readonly number[],
  ) {
    super(message);
  }
}

function describeAction(action: MutationAction): string {
  return action === 'sendEvent' ? 'send an event to' : action;
}
