import { randomUUID } from 'node:crypto';
import * as upstream from '../upstream/errors.js';
import { BATCH_SIZE } from '../upstream/limits.js';
import type {
  CreatedInstance,
  CreateInstanceRequest,
  InstanceDetails,
  InstanceStatus,
  WorkflowsApi,
} from '../upstream/types.js';
import { isOutcomeUnknown, toMutationError } from '../errors/from-upstream.js';
import {
  InstanceAlreadyExistsError,
  InvalidInputError,
  RateLimitedError,
  UpstreamFailureError,
  WorkflowNotFoundError,
} from '../errors/mutation-errors.js';
import { jsonEqual } from './json.js';
import { mapLimit } from './map-limit.js';
import { parseDuration, validateNewInstanceId, validatePayloadSize, type Path } from './validation.js';

/**
 * Creating instances without ever creating one twice.
 *
 * Every create carries an instance id: the caller's, or a random UUID we generate (the upstream would
 * generate the same kind). The upstream refuses a second instance with the same id, so when an answer is
 * lost (the connection broke after the request was sent) we can look the id up and, if it is not there,
 * send the create again: the worst case is an "already exists" that we then recognise as our own first
 * attempt, never a second instance.
 */

const LOOKUP_CONCURRENCY = 8;

/** One instance to create, as the GraphQL input gives it. */
export interface CreateItemInput {
  readonly instanceId?: string | null;
  /** Absent: no params are sent. `null` is a JSON value like any other and is sent as such. */
  readonly params?: unknown;
  readonly retention?: { readonly successRetention?: string | null; readonly errorRetention?: string | null } | null;
  readonly locationHint?: string | null;
}

export interface PreparedCreate {
  readonly request: CreateInstanceRequest & { readonly instanceId: string };
  /** True when the id was generated here: then an instance found under it can only be ours. */
  readonly generatedId: boolean;
}

/** Why one item of a batch was not created. */
export type ItemError = InstanceAlreadyExistsError | WorkflowNotFoundError | RateLimitedError | UpstreamFailureError;

const isItemError = (error: unknown): error is ItemError =>
  error instanceof InstanceAlreadyExistsError ||
  error instanceof WorkflowNotFoundError ||
  error instanceof RateLimitedError ||
  error instanceof UpstreamFailureError;

/** Maps an upstream failure for use as an item's error; anything that cannot be one (a bug, a credentials failure) is thrown. */
function itemError(error: unknown, target: { workflowName: string; instanceId?: string }): ItemError {
  const mapped = toMutationError(error, target);
  if (isItemError(mapped)) return mapped;
  throw mapped;
}

/**
 * How one create ended. `recovered` means its answer was lost and the instance was found or re-created.
 * `status` is what the upstream answered for the created instance: the create's answer, or the lookup's
 * after a lost one. It needs no read afterwards, so it reaches the client even when such a read fails.
 */
export type CreateOutcome =
  | {
      readonly instanceId: string;
      readonly created: true;
      readonly status: InstanceStatus;
      readonly recovered: boolean;
      readonly error: null;
    }
  | { readonly instanceId: string; readonly created: false; readonly recovered: false; readonly error: ItemError };

/** A create that succeeded. */
export type Created = Extract<CreateOutcome, { readonly created: true }>;

const created = (instance: CreatedInstance | InstanceDetails, recovered: boolean): Created => ({
  instanceId: instance.id,
  created: true,
  status: instance.status,
  recovered,
  error: null,
});

/** Validates one item (throwing `InvalidInputError` at `path`) and builds its request. */
export function prepareCreate(item: CreateItemInput, path: Path): PreparedCreate {
  const given = item.instanceId ?? undefined;
  if (given !== undefined) validateNewInstanceId(given, [...path, 'instanceId']);
  validatePayloadSize(item.params, [...path, 'params']);
  let retention: CreateInstanceRequest['retention'];
  if (item.retention) {
    const { successRetention, errorRetention } = item.retention;
    retention = {
      ...(successRetention == null
        ? {}
        : { successRetention: parseDuration(successRetention, [...path, 'retention', 'successRetention']) }),
      ...(errorRetention == null
        ? {}
        : { errorRetention: parseDuration(errorRetention, [...path, 'retention', 'errorRetention']) }),
    };
  }
  return {
    request: {
      instanceId: given ?? randomUUID(),
      ...(item.params === undefined ? {} : { params: item.params }),
      ...(retention === undefined ? {} : { retention }),
      ...(item.locationHint == null ? {} : { locationHint: item.locationHint }),
    },
    generatedId: given === undefined,
  };
}

/** Validates a whole batch before anything is sent: size, each item, and ids repeated within the batch. */
export function prepareBatch(items: readonly CreateItemInput[], limit: number, path: Path): PreparedCreate[] {
  if (items.length === 0 || items.length > limit) {
    throw new InvalidInputError(`A batch must have 1 to ${limit} instances (got ${items.length}).`, path);
  }
  const firstIndex = new Map<string, number>();
  return items.map((item, index) => {
    const prepared = prepareCreate(item, [...path, String(index)]);
    const id = prepared.request.instanceId;
    const earlier = firstIndex.get(id);
    if (earlier !== undefined) {
      throw new InvalidInputError(`Instance id "${id}" is already used by instances[${earlier}] of this batch.`, [
        ...path,
        String(index),
        'instanceId',
      ]);
    }
    firstIndex.set(id, index);
    return prepared;
  });
}

/**
 * Creates one instance. Throws the mutation error (`InstanceAlreadyExistsError`, `WorkflowNotFoundError`, …)
 * on failure. After a lost answer it looks the id up first and only re-sends when the instance is absent.
 */
export async function createOne(api: WorkflowsApi, workflowName: string, prepared: PreparedCreate): Promise<Created> {
  const target = { workflowName, instanceId: prepared.request.instanceId };
  try {
    return created(await api.createInstance(workflowName, prepared.request), false);
  } catch (error) {
    if (!isOutcomeUnknown(error)) throw toMutationError(error, target);
    const [outcome] = await recover(api, workflowName, [prepared], error, async (requests) => [
      await api.createInstance(workflowName, requests[0] as CreateInstanceRequest),
    ]);
    if (outcome?.error) throw outcome.error;
    return outcome as Created;
  }
}

/**
 * Creates many instances through the batch endpoint, {@link BATCH_SIZE} per call, in input order.
 * Returns one outcome per item, in input order. If the first call fails, nothing was created and its
 * error is thrown; if a later call fails, the items of that call and of every later one (which are not
 * sent) carry its error, so what was created is never lost from the answer.
 */
export async function createMany(
  api: WorkflowsApi,
  workflowName: string,
  prepared: readonly PreparedCreate[],
): Promise<CreateOutcome[]> {
  const outcomes: CreateOutcome[] = [];
  let stoppedBy: ItemError | undefined;
  const send = (requests: readonly CreateInstanceRequest[]) => api.createInstances(workflowName, requests);
  for (let start = 0; start < prepared.length; start += BATCH_SIZE) {
    const chunk = prepared.slice(start, start + BATCH_SIZE);
    if (stoppedBy) {
      outcomes.push(...chunk.map((p) => failed(p, stoppedBy as ItemError)));
      continue;
    }
    try {
      outcomes.push(...settle(workflowName, chunk, await send(chunk.map((p) => p.request))));
    } catch (error) {
      if (isOutcomeUnknown(error)) {
        outcomes.push(...(await recover(api, workflowName, chunk, error, send)));
        continue;
      }
      const mapped = itemError(error, { workflowName });
      if (start === 0) throw mapped;
      stoppedBy = mapped;
      outcomes.push(...chunk.map((p) => failed(p, mapped)));
    }
  }
  return outcomes;
}

function failed(prepared: PreparedCreate, error: ItemError): CreateOutcome {
  return { instanceId: prepared.request.instanceId, created: false, recovered: false, error };
}

/** Ids the upstream did not return were skipped because they already exist (batch endpoint semantics). */
function settle(
  workflowName: string,
  chunk: readonly PreparedCreate[],
  answered: readonly CreatedInstance[],
): CreateOutcome[] {
  const byId = new Map(answered.map((c) => [c.id, c]));
  return chunk.map((p) => {
    const instance = byId.get(p.request.instanceId);
    return instance ? created(instance, false) : taken(workflowName, p);
  });
}

/** The item's id belongs to an instance that is not ours. */
function taken(workflowName: string, prepared: PreparedCreate): CreateOutcome {
  return failed(prepared, new InstanceAlreadyExistsError(workflowName, prepared.request.instanceId));
}

/**
 * After a lost answer: looks every id up; ids found with our params are ours (created by the lost
 * attempt), ids found with other params belong to someone else, absent ids are sent once more. An
 * "already exists" on that second send is checked the same way, because the lost attempt may land late.
 */
async function recover(
  api: WorkflowsApi,
  workflowName: string,
  chunk: readonly PreparedCreate[],
  lostError: unknown,
  send: (requests: readonly CreateInstanceRequest[]) => Promise<readonly CreatedInstance[]>,
): Promise<CreateOutcome[]> {
  const unknown = itemError(lostError, { workflowName });
  const first = await classify(api, workflowName, chunk, unknown);
  const absent = chunk.filter((_, i) => first[i] === undefined);
  let resent = new Map<string, CreateOutcome>();
  if (absent.length > 0) {
    let answered: readonly CreatedInstance[] | undefined;
    let resendError: unknown;
    try {
      answered = await send(absent.map((p) => p.request));
    } catch (error) {
      if (!(error instanceof upstream.UpstreamError)) throw error;
      resendError = error;
    }
    if (answered) {
      resent = new Map(answered.map((c) => [c.id, created(c, true)]));
      const skipped = absent.filter((p) => !resent.has(p.request.instanceId));
      const second = await classify(api, workflowName, skipped, unknown);
      skipped.forEach((p, i) => {
        resent.set(p.request.instanceId, second[i] ?? taken(workflowName, p));
      });
    } else if (absent.length === 1 && resendError instanceof upstream.AlreadyExistsError) {
      // A single create reports a conflict instead of skipping: the lost attempt landed in between.
      const [again] = await classify(api, workflowName, absent, unknown);
      const p = absent[0] as PreparedCreate;
      resent.set(p.request.instanceId, again ?? taken(workflowName, p));
    } else {
      const only = absent.length === 1 ? absent[0]?.request.instanceId : undefined;
      const mapped = itemError(resendError, only === undefined ? { workflowName } : { workflowName, instanceId: only });
      for (const p of absent) resent.set(p.request.instanceId, failed(p, mapped));
    }
  }
  return chunk.map((p, i) => first[i] ?? (resent.get(p.request.instanceId) as CreateOutcome));
}

/**
 * Looks each id up. `undefined` = absent (safe to send); otherwise the settled outcome: ours (recovered),
 * someone else's (already exists), or still unknown when the lookup itself failed.
 */
async function classify(
  api: WorkflowsApi,
  workflowName: string,
  chunk: readonly PreparedCreate[],
  unknown: ItemError,
): Promise<(CreateOutcome | undefined)[]> {
  return mapLimit(chunk, LOOKUP_CONCURRENCY, async (p) => {
    const id = p.request.instanceId;
    let details: InstanceDetails;
    try {
      details = await api.getInstance(workflowName, id, { simple: true });
    } catch (error) {
      if (error instanceof upstream.NotFoundError && error.resource === 'instance') return undefined;
      if (error instanceof upstream.NotFoundError) return failed(p, itemError(error, { workflowName }));
      return failed(p, unknown);
    }
    return isOurs(details, p) ? created(details, true) : taken(workflowName, p);
  });
}

/**
 * Whether an instance found after a lost answer is the one we asked for. A generated UUID cannot have
 * existed before; a caller's id is ours when the params match (then it is this create or an identical
 * earlier one, and reporting it as created is what a retrying client wants).
 */
function isOurs(details: InstanceDetails, prepared: PreparedCreate): boolean {
  if (prepared.generatedId) return true;
  const sent = prepared.request.params;
  if (sent === undefined)
    return details.params === undefined || details.params === null || jsonEqual(details.params, {});
  return jsonEqual(details.params, sent);
}
