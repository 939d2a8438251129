import type { InstanceAction, MutationErrorsFragment } from './gql/graphql';

/**
 * A readable sentence for every typed error member of the mutations' result unions. The switch is exhaustive: a new
 * error type in the schema fails the type-check here until it has a sentence.
 */
export function describeMutationError(error: MutationErrorsFragment): string {
  switch (error.__typename) {
    case 'ForbiddenError':
      return error.requiredScope
        ? `Not allowed: your credential lacks the ${error.requiredScope} scope.`
        : `Not allowed: your credential may not change workflow ${error.workflowName}.`;
    case 'InstanceAlreadyExistsError':
      return `An instance with the id ${error.instanceId} already exists. Choose another id, or restart that one.`;
    case 'InstanceNotFoundError':
      return `Instance ${error.instanceId} no longer exists (or its retention period is over).`;
    case 'InvalidInputError':
      return `Invalid ${error.path.join('.')}: ${error.message}`;
    case 'InvalidTransitionError':
      return `Cannot ${ACTION_VERBS[error.action]} an instance that is ${error.currentStatus.toLowerCase().replaceAll('_', ' ')}.`;
    case 'RateLimitedError':
      return `Too many requests to Cloudflare right now: try again in ${error.retryAfter} s.`;
    case 'UpstreamError':
      return `Cloudflare's Workflows API failed (${error.code.toLowerCase().replaceAll('_', ' ')}${error.retryable ? ', worth retrying' : ''}): ${error.message}`;
    case 'WorkflowNotFoundError':
      return `Workflow ${error.workflowName} does not exist.`;
    case 'BaseError':
      return error.message;
    default:
      return unexpected(error);
  }
}

const ACTION_VERBS = {
  PAUSE: 'pause',
  RESUME: 'resume',
  TERMINATE: 'terminate',
  RESTART: 'restart',
  SEND_EVENT: 'send an event to',
} satisfies Record<InstanceAction, string>;

function unexpected(error: never): string {
  return (error as { message: string }).message;
}
