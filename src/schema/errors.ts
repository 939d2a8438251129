import {
  ForbiddenError,
  InstanceAlreadyExistsError,
  InstanceNotFoundError,
  InvalidInputError,
  InvalidTransitionError,
  RateLimitedError,
  UPSTREAM_FAILURE_CODES,
  UpstreamFailureError,
  WorkflowNotFoundError,
  type UpstreamFailureCode,
} from '../errors/mutation-errors.js';
import { builder } from './builder.js';
import { InstanceStatusEnum } from './instance.js';

/**
 * GraphQL types of the expected mutation outcomes (Pothos errors plugin): an `Error` interface, a
 * `BaseError`, and one object type per domain error class of `errors/mutation-errors.ts`. Each type checks
 * its own class in `isTypeOf`, because every error is also an `Error` and `BaseError` must not claim them.
 * The GraphQL names are public API; where a class is named otherwise (`UpstreamFailureError`), `name` says so.
 */

export const ErrorInterface = builder.interfaceRef<Error>('Error').implement({
  description:
    'An expected, client-actionable failure of a mutation. Query `... on Error { message }` to handle every kind alike.',
  fields: (t) => ({
    message: t.exposeString('message', {
      nullable: false,
      description: 'What went wrong, written for the developer of the client.',
    }),
  }),
});

builder.objectType(Error, {
  name: 'BaseError',
  description: 'A failure with nothing more to say than its message.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof Error && Object.getPrototypeOf(value) === Error.prototype,
});

export const InstanceActionEnum = builder.enumType('InstanceAction', {
  description: 'A change requested of an instance.',
  values: {
    PAUSE: { value: 'pause', description: 'Pause the instance (`pauseInstance`).' },
    RESUME: { value: 'resume', description: 'Resume a paused instance (`resumeInstance`).' },
    TERMINATE: { value: 'terminate', description: 'Stop the instance for good (`terminateInstance`).' },
    RESTART: { value: 'restart', description: 'Run the instance again (`restartInstance`).' },
    SEND_EVENT: { value: 'sendEvent', description: 'Deliver an event to the instance (`sendInstanceEvent`).' },
  } as const,
});

export const InvalidInputErrorType = builder.objectType(InvalidInputError, {
  name: 'InvalidInputError',
  description: 'The input was refused before anything was sent to the Workflows API; fix the field named by `path`.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof InvalidInputError,
  fields: (t) => ({
    path: t.stringList({
      nullable: false,
      description:
        'Path of the offending input field, from the argument name down; list indexes are strings (`["input", "instances", "3", "instanceId"]`).',
      resolve: (error) => [...error.path],
    }),
  }),
});

export const ForbiddenErrorType = builder.objectType(ForbiddenError, {
  name: 'ForbiddenError',
  description:
    'The credential is valid but may not make this change: it lacks the scope, or the workflow is not among those it may ' +
    "touch (then nothing was sent to the Workflows API), or Cloudflare refused the permission to a client's own token.",
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof ForbiddenError,
  fields: (t) => ({
    requiredScope: t.exposeString('requiredScope', {
      nullable: true,
      description:
        'The scope the mutation needs and the credential lacks (`workflows:write`); null when only the workflow is not allowed.',
    }),
    workflowName: t.exposeString('workflowName', {
      nullable: false,
      description: 'The workflow the mutation would change.',
    }),
  }),
});

export const WorkflowNotFoundErrorType = builder.objectType(WorkflowNotFoundError, {
  name: 'WorkflowNotFoundError',
  description: 'No workflow has this name in the account.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof WorkflowNotFoundError,
  fields: (t) => ({
    workflowName: t.exposeString('workflowName', { nullable: false, description: 'The name that was not found.' }),
  }),
});

export const InstanceNotFoundErrorType = builder.objectType(InstanceNotFoundError, {
  name: 'InstanceNotFoundError',
  description: 'The workflow has no instance with this id (or its retention period is over).',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof InstanceNotFoundError,
  fields: (t) => ({
    workflowName: t.exposeString('workflowName', { nullable: false, description: 'The workflow that was searched.' }),
    instanceId: t.exposeString('instanceId', { nullable: false, description: 'The id that was not found.' }),
  }),
});

export const InstanceAlreadyExistsErrorType = builder.objectType(InstanceAlreadyExistsError, {
  name: 'InstanceAlreadyExistsError',
  description:
    'An instance with this id already exists (ids stay taken for the retention period of the earlier instance). ' +
    'Nothing was created; to run it again, use `restartInstance`.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof InstanceAlreadyExistsError,
  fields: (t) => ({
    workflowName: t.exposeString('workflowName', {
      nullable: false,
      description: 'The workflow of the existing instance.',
    }),
    instanceId: t.exposeString('instanceId', { nullable: false, description: 'The id that is taken.' }),
  }),
});

export const InvalidTransitionErrorType = builder.objectType(InvalidTransitionError, {
  name: 'InvalidTransitionError',
  description:
    'The instance cannot make this change from its current status (for example pausing a completed instance). ' +
    'Refused without a call when the status was already known, otherwise refused by the Workflows API.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof InvalidTransitionError,
  fields: (t) => ({
    currentStatus: t.field({
      nullable: false,
      type: InstanceStatusEnum,
      description: 'The status the instance had when the change was refused.',
      resolve: (error) => error.currentStatus,
    }),
    action: t.field({
      nullable: false,
      type: InstanceActionEnum,
      description: 'The change that was refused.',
      resolve: (error) => error.action,
    }),
  }),
});

export const RateLimitedErrorType = builder.objectType(RateLimitedError, {
  name: 'RateLimitedError',
  description: 'The Workflows API rate limit was reached; nothing was sent. Retry after `retryAfter` seconds.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof RateLimitedError,
  fields: (t) => ({
    retryAfter: t.exposeInt('retryAfter', {
      nullable: false,
      description: 'Seconds to wait before retrying (rounded up, at least 1).',
    }),
  }),
});

export const UpstreamErrorCodeEnum = builder.enumType('UpstreamErrorCode', {
  description: 'What kind of failure an `UpstreamError` is.',
  values: Object.fromEntries(
    Object.entries(UPSTREAM_FAILURE_CODES).map(([code, description]) => [code, { value: code, description }]),
  ) as Record<UpstreamFailureCode, { value: UpstreamFailureCode; description: string }>,
});

export const UpstreamErrorType = builder.objectType(UpstreamFailureError, {
  name: 'UpstreamError',
  description: 'A failure of the Workflows API that no more specific error type describes.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof UpstreamFailureError,
  fields: (t) => ({
    code: t.field({
      nullable: false,
      type: UpstreamErrorCodeEnum,
      description: 'The kind of failure.',
      resolve: (error) => error.code,
    }),
    retryable: t.exposeBoolean('retryable', {
      nullable: false,
      description: 'True when sending the same mutation again is safe and may succeed.',
    }),
    status: t.exposeInt('status', {
      nullable: true,
      description: 'HTTP status of the upstream answer; null when none arrived.',
    }),
    upstreamCodes: t.exposeIntList('upstreamCodes', {
      nullable: false,
      description: "Cloudflare's error codes from the answer (for example 10001).",
    }),
    // Not `instanceId`: nullable here, it could not be selected beside the non-null `instanceId` of the other
    // members of the mutation result unions (`CreateInstancePayload`, `InstanceAlreadyExistsError`) without an alias.
    targetInstanceId: t.exposeString('instanceId', {
      nullable: true,
      description:
        'The instance the failed request was acting on; null when it was acting on none (a whole batch call). After `OUTCOME_UNKNOWN` on ' +
        '`createInstance` or an item of `createInstances`, the instance may exist under this id (generated by the gateway when the ' +
        'input had none): query it before creating again.',
    }),
  }),
});
