import {
  MAX_EVENT_TYPE_LENGTH,
  MAX_INSTANCE_ID_LENGTH,
  MAX_STEP_NAME_LENGTH,
  MAX_WORKFLOW_NAME_LENGTH,
  NAME_PATTERN,
} from '../identifiers.js';
import type { Duration } from '../upstream/types.js';
import { InvalidInputError } from '../errors/mutation-errors.js';

/**
 * Input rules of the Workflows API (contract section 4), checked before any upstream call so that a refused
 * input costs nothing. Each check throws {@link InvalidInputError} naming the offending field's path.
 */

const RESERVED_ID = /^cf_[0-9a-f]{64}$/;
// Cron-created instances have ids such as `*/30 * * * *-1786001400000`; they can be addressed, not created.
const ADDRESSABLE_ID = /^[a-zA-Z0-9, */#_-]+$/;
const MAX_ADDRESSABLE_ID_LENGTH = 271;
const DURATION = /^(\d+(?:\.\d+)?) (second|minute|hour|day|week|month|year)s?$/;

/** Params and event payloads: at most 1 MiB of UTF-8 JSON text. */
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

export type Path = readonly string[];

function name(value: string, path: Path, what: string, max: number): void {
  if (value.length === 0 || value.length > max) {
    throw new InvalidInputError(`${what} must be 1 to ${max} characters long (got ${value.length}).`, path);
  }
  if (!NAME_PATTERN.test(value)) {
    throw new InvalidInputError(
      `${what} may only contain letters, digits, "-" and "_", and must not start with "-" (got ${JSON.stringify(value)}).`,
      path,
    );
  }
}

export function validateWorkflowName(value: string, path: Path): void {
  name(value, path, 'A workflow name', MAX_WORKFLOW_NAME_LENGTH);
}

/** An id for a new instance: the creation rules, including the ids reserved for the system. */
export function validateNewInstanceId(value: string, path: Path): void {
  name(value, path, 'An instance id', MAX_INSTANCE_ID_LENGTH);
  if (RESERVED_ID.test(value)) {
    throw new InvalidInputError(
      'Instance ids of the form "cf_" followed by 64 hex digits are reserved for the system.',
      path,
    );
  }
}

/** An id of an existing instance: also accepts the ids the system gives cron-created and reserved instances. */
export function validateInstanceAddress(value: string, path: Path): void {
  if (value.length === 0 || value.length > MAX_ADDRESSABLE_ID_LENGTH) {
    throw new InvalidInputError(
      `An instance id must be 1 to ${MAX_ADDRESSABLE_ID_LENGTH} characters long (got ${value.length}).`,
      path,
    );
  }
  if (!ADDRESSABLE_ID.test(value)) {
    throw new InvalidInputError(
      `${JSON.stringify(value)} cannot be an instance id: it contains characters no instance id has.`,
      path,
    );
  }
}

export function validateEventType(value: string, path: Path): void {
  name(value, path, 'An event type', MAX_EVENT_TYPE_LENGTH);
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
  if (value.length === 0 || value.length > MAX_STEP_NAME_LENGTH) {
    throw new InvalidInputError(
      `A step name must be 1 to ${MAX_STEP_NAME_LENGTH} characters long (got ${value.length}).`,
      path,
    );
  }
  if ([...value].some((c) => c.charCodeAt(0) < 0x20))
    throw new InvalidInputError('A step name must not contain control characters.', path);
}

export function validatePositiveInt(value: number, path: Path, what: string): void {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new InvalidInputError(`${what} must be at least 1 (got ${value}).`, path);
}
