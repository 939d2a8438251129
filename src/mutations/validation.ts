import {
  ADDRESSABLE_INSTANCE_ID,
  EVENT_TYPE,
  NEW_INSTANCE_ID,
  STEP_NAME,
  WORKFLOW_NAME,
  identifierRefusal,
  type IdentifierRule,
} from '../identifiers.js';
import type { Duration } from '../upstream/types.js';
import { InvalidInputError } from '../errors/mutation-errors.js';

/**
 * Input rules of the Workflows API (docs/upstream-contract.md §4), checked before any upstream call so that a refused
 * input costs nothing. Each check throws {@link InvalidInputError} naming the offending field's path.
 */

const DURATION = /^(\d+(?:\.\d+)?) (second|minute|hour|day|week|month|year)s?$/;

/** Params and event payloads: at most 1 MiB of UTF-8 JSON text. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

export type Path = readonly string[];

/** Reports a value that breaks a name-like rule (workflow names, new instance ids, event types). */
function name(value: string, path: Path, what: string, rule: IdentifierRule): void {
  const refusal = identifierRefusal(rule, value);
  if (refusal === 'length') {
    throw new InvalidInputError(`${what} must be 1 to ${rule.maxLength} characters long (got ${value.length}).`, path);
  }
  if (refusal === 'characters') {
    throw new InvalidInputError(
      `${what} may only contain letters, digits, "-" and "_", and must not start with "-" (got ${JSON.stringify(value)}).`,
      path,
    );
  }
  if (refusal === 'reserved') {
    throw new InvalidInputError(
      'Instance ids of the form "cf_" followed by 64 hex digits are reserved for the system.',
      path,
    );
  }
}

export function validateWorkflowName(value: string, path: Path): void {
  name(value, path, 'A workflow name', WORKFLOW_NAME);
}

/** An id for a new instance: the creation rules, including the ids reserved for the system. */
export function validateNewInstanceId(value: string, path: Path): void {
  name(value, path, 'An instance id', NEW_INSTANCE_ID);
}

/** An id of an existing instance: also accepts the ids the system gives cron-created and reserved instances. */
export function validateInstanceAddress(value: string, path: Path): void {
  const refusal = identifierRefusal(ADDRESSABLE_INSTANCE_ID, value);
  if (refusal === 'length') {
    throw new InvalidInputError(
      `An instance id must be 1 to ${ADDRESSABLE_INSTANCE_ID.maxLength} characters long (got ${value.length}).`,
      path,
    );
  }
  if (refusal !== undefined) {
    throw new InvalidInputError(
      `${JSON.stringify(value)} cannot be an instance id: it contains characters no instance id has.`,
      path,
    );
  }
}

export function validateEventType(value: string, path: Path): void {
  name(value, path, 'An event type', EVENT_TYPE);
}

/**
 * Checks that a JSON value is at most {@link MAX_PAYLOAD_BYTES} once serialised. `undefined` (an omitted
 * field) passes.
 */
export function validatePayloadSize(value: unknown, path: Path): void {
  if (value === undefined) return;
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    throw new InvalidInputError('The value cannot be serialised as JSON.', path);
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new InvalidInputError(
      `The value is ${bytes} bytes as JSON; the limit is ${MAX_PAYLOAD_BYTES} bytes (1 MiB).`,
      path,
    );
  }
}

/**
 * Parses a retention duration: a whole number of milliseconds written as digits (`"86400000"`), or
 * `"<number> <unit>"` with unit second, minute, hour, day, week, month or year, optionally plural (`"7 days"`).
 */
export function parseDuration(value: string, path: Path): Duration {
  if (/^\d+$/.test(value)) {
    const ms = Number(value);
    if (!Number.isSafeInteger(ms)) throw new InvalidInputError(`${value} milliseconds is out of range.`, path);
    return ms;
  }
  if (DURATION.test(value)) return value;
  throw new InvalidInputError(
    `A duration is a number of milliseconds ("86400000") or "<number> <unit>" such as "7 days" (got ${JSON.stringify(value)}).`,
    path,
  );
}

/** A step name as `restartInstance`'s `from` wants it: the bare name, without the log's `-<n>` suffix. */
export function validateStepName(value: string, path: Path): void {
  const refusal = identifierRefusal(STEP_NAME, value);
  if (refusal === 'length') {
    throw new InvalidInputError(
      `A step name must be 1 to ${STEP_NAME.maxLength} characters long (got ${value.length}).`,
      path,
    );
  }
  if (refusal !== undefined) throw new InvalidInputError('A step name must not contain control characters.', path);
}

export function validatePositiveInt(value: number, path: Path, what: string): void {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new InvalidInputError(`${what} must be at least 1 (got ${value}).`, path);
}
