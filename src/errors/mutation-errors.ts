import type { Scope } from '../auth/principal.js';
import type { InstanceAction, InstanceStatus } from '../upstream/types.js';

/**
 * The expected, client-actionable outcomes of mutations. Each class is registered as a GraphQL object type
 * in `schema/errors.ts` (of the same name, except {@link UpstreamFailureError}, whose GraphQL type is
 * `UpstreamError`) and listed in the `errors` option of the mutations that can produce it; anything else a
 * resolver throws stays a (masked) GraphQL error. `from-upstream.ts` builds them from upstream failures.
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

/**
 * The caller is authenticated but may not make this change: its credential lacks `requiredScope`, or the
 * workflow is outside the workflows it may touch (then nothing was sent to the Workflows API), or, in
 * `cloudflare-token` mode, Cloudflare refused the client's token the permission.
 */
export class ForbiddenError extends Error {
  override readonly name = 'ForbiddenError';
  constructor(
    message: string,
    /** The scope the mutation needs and the credential lacks; null when the scope is there but the workflow is not allowed. */
    readonly requiredScope: Scope | null,
    /** The workflow the mutation would touch. */
    readonly workflowName: string,
  ) {
    super(message);
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
  constructor(
    /** Whole seconds to wait before retrying (see `retryAfterSeconds` in `upstream/errors.ts`). */
    readonly retryAfter: number,
  ) {
    super(`The Workflows API rate limit was reached; retry in ${retryAfter} s.`);
  }
}

/**
 * Stable codes of {@link UpstreamFailureError} (the GraphQL enum `UpstreamErrorCode`): what went wrong
 * between the gateway and the Workflows API. `OUTCOME_UNKNOWN` means the request may or may not have taken
 * effect. Not to be confused with the upstream client's own `UpstreamErrorCode` in `upstream/errors.ts`.
 */
export const UPSTREAM_FAILURE_CODES = {
  UNAVAILABLE: 'The Workflows API could not be reached or failed; retry later.',
  TIMEOUT: 'The Workflows API did not answer in time.',
  OUTCOME_UNKNOWN:
    'The request was sent but its answer was lost: it may or may not have taken effect. Check before retrying.',
  REFUSED: 'The Workflows API refused the request for a reason no more specific error describes.',
  INTERNAL: 'The Workflows API answered with an internal error.',
} as const;

export type UpstreamFailureCode = keyof typeof UPSTREAM_FAILURE_CODES;

/**
 * The fallback for upstream failures that have no more specific type; the GraphQL type `UpstreamError`.
 * The class is named apart from `UpstreamError` of `upstream/errors.ts` (the base of every failure of the
 * upstream client), which it is built from.
 */
export class UpstreamFailureError extends Error {
  override readonly name = 'UpstreamFailureError';
  constructor(
    message: string,
    readonly code: UpstreamFailureCode,
    /** True when sending the same mutation again is safe and may succeed. */
    readonly retryable: boolean,
    /** HTTP status of the upstream answer; null when there was none (timeout, broken connection). */
    readonly status: number | null,
    /** Cloudflare error codes from the answer's envelope (e.g. 10001). */
    readonly upstreamCodes: readonly number[],
    /**
     * The instance the failed request was acting on (GraphQL `targetInstanceId`); null when it was acting on none (a whole batch). After
     * `OUTCOME_UNKNOWN` on a create it is the only way to find the instance that may now exist, whose id
     * the gateway may have generated.
     */
    readonly instanceId: string | null,
  ) {
    super(message);
  }
}

function describeAction(action: MutationAction): string {
  return action === 'sendEvent' ? 'send an event to' : action;
}
