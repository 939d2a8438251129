import { canTransition } from '../state-machine.js';
import * as upstream from '../upstream/errors.js';
import type { Loaders } from '../loaders.js';
import type { LiveHub } from '../subscriptions/types.js';
import type { InstanceStatus, StatusChange, WorkflowsApi } from '../upstream/types.js';
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

/**
 * What an event mutation answers: the instance to read back, and the upstream's time of the change. Both come
 * from the write and its input, so they reach the client even when a read of the instance afterwards fails.
 */
export interface EventResult {
  readonly instance: { readonly workflowName: string; readonly instanceId: string };
  readonly timestamp: Date;
}

/** What a status change answers: as an event, plus the status the upstream reported in its answer. */
export interface ChangeResult extends EventResult {
  readonly status: InstanceStatus;
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
): Promise<EventResult> {
  return applyChange(ctx, workflowName, instanceId, 'sendEvent', () =>
    ctx.api.sendInstanceEvent(workflowName, instanceId, eventType, payload),
  );
}

/**
 * Runs a write against one instance and, whatever its outcome, makes the rest of the operation and live
 * subscribers see fresh state: even a failed or unanswered write may have changed the instance.
 */
async function applyChange<R extends { readonly timestamp: Date }>(
  ctx: WriteScope,
  workflowName: string,
  instanceId: string,
  action: MutationAction,
  call: () => Promise<R>,
): Promise<R & EventResult> {
  const refresh = (): void => {
    ctx.loaders.invalidateInstance(workflowName, instanceId);
    ctx.live.instanceChanged(ctx.api, workflowName, instanceId);
  };
  let result: R;
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
  return { ...result, instance: { workflowName, instanceId } };
}

/**
 * The upstream refusal does not say the current status, so one simple GET finds it (and the message says so).
 * The fields of these mutations declare it (`lookupOnRefusal`, `schema/instance-mutations.ts`), so that the
 * cost estimate counts it.
 */
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
