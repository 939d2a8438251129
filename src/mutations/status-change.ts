import { canTransition } from '../state-machine.js';
import * as upstream from '../upstream/errors.js';
import type { Loaders } from '../loaders.js';
import type { LiveHub } from '../subscriptions/types.js';
import type { StatusChange, WorkflowsApi } from '../upstream/types.js';
import { toMutationError } from '../errors/from-upstream.js';
import { InvalidTransitionError, UpstreamFailureError, type MutationAction } from '../errors/mutation-errors.js';

/**
 * What a write needs from the operation it runs in: the credential's API, and the loaders and live hub it
 * refreshes afterwards (an operation's `Context` is one).
 */
export interface WriteScope {
  readonly api: WorkflowsApi;
  readonly loaders: Loaders;
  readonly live: LiveHub;
}

/** What a status change or event mutation answers: the instance to read back, and the upstream's time of the change. */
export interface ChangeResult {
  readonly instance: { readonly workflowName: string; readonly instanceId: string };
  readonly timestamp: Date;
}

/**
 * Pauses, resumes, terminates or restarts an instance. A change the state machine forbids from a status
 * we already know is refused without a call; the upstream's own refusal becomes the same error.
 */
export async function changeStatus(
  ctx: WriteScope,
  workflowName: string,
  instanceId: string,
  change: StatusChange,
): Promise<ChangeResult> {
  const known = ctx.loaders.peekStatus(workflowName, instanceId);
  if (known !== undefined && !canTransition(known, change.action)) {
    throw new InvalidTransitionError(workflowName, instanceId, known, change.action, 'known');
  }
  return applyChange(ctx, workflowName, instanceId, change.action, () =>
    ctx.api.changeInstanceStatus(workflowName, instanceId, change),
  );
}

/** Delivers an event to the instance's `step.waitForEvent` calls of that type. */
export async function sendEvent(
  ctx: WriteScope,
  workflowName: string,
  instanceId: string,
  eventType: string,
  payload: unknown,
): Promise<ChangeResult> {
  return applyChange(ctx, workflowName, instanceId, 'sendEvent', () =>
    ctx.api.sendInstanceEvent(workflowName, instanceId, eventType, payload),
  );
}

/**
 * Runs a write against one instance and, whatever its outcome, makes the rest of the operation and live
 * subscribers see fresh state: even a failed or unanswered write may have changed the instance.
 */
async function applyChange(
  ctx: WriteScope,
  workflowName: string,
  instanceId: string,
  action: MutationAction,
  call: () => Promise<{ readonly timestamp: Date }>,
): Promise<ChangeResult> {
  const refresh = (): void => {
    ctx.loaders.invalidateInstance(workflowName, instanceId);
    ctx.live.instanceChanged(ctx.api, workflowName, instanceId);
  };
  let result: { readonly timestamp: Date };
  try {
    result = await call();
  } catch (error) {
    if (error instanceof upstream.UpstreamInvalidTransitionError) {
      // Refused, so nothing changed: what we knew is stale, but subscribers only need the status we fetch.
      ctx.loaders.invalidateInstance(workflowName, instanceId);
      throw await refusedTransitionError(ctx, workflowName, instanceId, action, error);
    }
    refresh();
    throw toMutationError(error, { workflowName, instanceId });
  }
  refresh();
  return { instance: { workflowName, instanceId }, timestamp: result.timestamp };
}

/** The upstream refusal does not say the current status, so one simple GET finds it (and the message says so). */
async function refusedTransitionError(
  ctx: WriteScope,
  workflowName: string,
  instanceId: string,
  action: MutationAction,
  refused: upstream.UpstreamInvalidTransitionError,
): Promise<unknown> {
  try {
    const details = await ctx.api.getInstance(workflowName, instanceId, { simple: true });
    ctx.loaders.primeInstance(details);
    ctx.live.instanceChanged(ctx.api, workflowName, instanceId, details);
    return new InvalidTransitionError(workflowName, instanceId, details.status, action, 'fetchedAfterRefusal');
  } catch (error) {
    if (!(error instanceof upstream.UpstreamError)) throw error;
    return new UpstreamFailureError(
      'The Workflows API refused the change, and the instance status could not be read to say why.',
      'REFUSED',
      false,
      refused.status,
      refused.errors.map((e) => e.code),
    );
  }
}
