/** Input validation per docs/upstream-contract.md §4. Every failure is an ApiError with a specific message. */
import {
  identifierRefusal,
  isAddressableInstanceId,
  isEventType,
  isNewInstanceId,
  isVersionId,
  isWorkflowName,
  MAX_ADDRESSABLE_INSTANCE_ID_LENGTH,
  MAX_EVENT_TYPE_LENGTH,
  MAX_NEW_INSTANCE_ID_LENGTH,
  MAX_WORKFLOW_NAME_LENGTH,
  NEW_INSTANCE_ID,
} from '../identifiers.js';
import { parseDuration } from './duration.js';
import { ApiError, badRequest, CODES } from './errors.js';
import { isValidCron } from './engine/cron.js';
import { INSTANCE_STATUSES, type InstanceStatus, type RetentionMs } from './types.js';

const ACCOUNT_ID = /^[a-zA-Z0-9_-]{1,64}$/;
export const LOCATION_HINTS: ReadonlySet<string> = new Set([
  'wnam',
  'weur',
  'enam',
  'eeur',
  'apac',
  'apac-ne',
  'apac-se',
  'oc',
  'sam',
  'afr',
  'me',
]);
export const MAX_PAYLOAD_BYTES = 1024 * 1024;

export type JsonObject = { [key: string]: unknown };

const show = (value: unknown): string => {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
};

export function accountId(value: string): string {
  if (!ACCOUNT_ID.test(value)) {
    throw new ApiError(
      400,
      CODES.noRoute,
      `Could not route to /accounts/${value.slice(0, 80)}, perhaps your object identifier is invalid?`,
    );
  }
  return value;
}

export function workflowName(value: string): string {
  if (!isWorkflowName(value)) {
    throw badRequest(
      `Invalid workflow name ${show(value)}: use 1 to ${MAX_WORKFLOW_NAME_LENGTH} letters, digits, "-" or "_", not starting with "-"`,
    );
  }
  return value;
}

/** Ids as given in a create body: the user-id rules. */
export function newInstanceId(value: unknown): string {
  if (typeof value === 'string' && identifierRefusal(NEW_INSTANCE_ID, value) === 'reserved')
    throw badRequest(`Invalid instance_id ${show(value)}: ids of the form cf_<64 hex> are reserved`);
  if (typeof value !== 'string' || !isNewInstanceId(value)) {
    throw badRequest(
      `Invalid instance_id ${show(value)}: use 1 to ${MAX_NEW_INSTANCE_ID_LENGTH} letters, digits, "-" or "_", not starting with "-"`,
    );
  }
  return value;
}

/** Ids in a path: also the system's cron ids (docs/upstream-contract.md §4.1). */
export function instanceIdInPath(value: string): string {
  if (!isAddressableInstanceId(value)) {
    throw badRequest(
      `Invalid instance id ${show(value)}: at most ${MAX_NEW_INSTANCE_ID_LENGTH} letters, digits, "-" or "_" (cron ids up to ${MAX_ADDRESSABLE_INSTANCE_ID_LENGTH} characters)`,
    );
  }
  return value;
}

export function eventType(value: string): string {
  if (!isEventType(value)) {
    throw badRequest(
      `Invalid event type ${show(value)}: use 1 to ${MAX_EVENT_TYPE_LENGTH} letters, digits, "-" or "_", not starting with "-"`,
    );
  }
  return value;
}

export function versionId(value: string): string {
  if (!isVersionId(value)) throw badRequest(`Invalid version id ${show(value)}: expected a uuid`);
  return value;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function object(value: unknown, what: string): JsonObject {
  if (!isObject(value)) throw badRequest(`${what} must be a JSON object`);
  return value;
}

export function optionalString(body: JsonObject, key: string, min: number, max: number): string | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length < min || value.length > max) {
    throw badRequest(`${key} must be a string of ${min} to ${max} characters`);
  }
  return value;
}

export function requiredString(body: JsonObject, key: string, min: number, max: number): string {
  const value = optionalString(body, key, min, max);
  if (value === undefined) throw badRequest(`${key} is required`);
  return value;
}

export function retention(value: unknown, what: string): RetentionMs | undefined {
  if (value === undefined || value === null) return undefined;
  const body = object(value, what);
  const out: RetentionMs = {};
  for (const [key, field] of [
    ['success_retention', 'success'],
    ['error_retention', 'error'],
  ] as const) {
    if (body[key] === undefined) continue;
    const ms = parseDuration(body[key]);
    if (ms === undefined)
      throw badRequest(
        `${what}.${key} must be milliseconds or a duration such as "5 minutes" (got ${show(body[key])})`,
      );
    out[field] = ms;
  }
  const unknown = Object.keys(body).filter((k) => k !== 'success_retention' && k !== 'error_retention');
  if (unknown.length > 0) throw badRequest(`${what} has unknown fields: ${unknown.join(', ')}`);
  return out;
}

export function positiveInt(value: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw badRequest(`${what} must be an integer between 1 and ${max}`);
  }
  return value;
}

export function schedules(value: unknown): { cron: string }[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > 100)
    throw badRequest('schedules must be an array of at most 100 { cron } objects');
  return value.map((item, i) => {
    const cron = object(item, `schedules[${i}]`).cron;
    if (typeof cron !== 'string' || !isValidCron(cron))
      throw badRequest(`schedules[${i}].cron is not a valid 5-field cron expression (got ${show(cron)})`);
    return { cron };
  });
}

/** Query integers: page, per_page. */
export function queryInt(raw: string | null, name: string, fallback: number, max: number): number {
  if (raw === null) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw badRequest(`${name} must be an integer between 1 and ${max} (got ${show(raw)})`);
  }
  return Number(raw);
}

export function queryStatus(raw: string | null): InstanceStatus | undefined {
  if (raw === null) return undefined;
  if (!(INSTANCE_STATUSES as readonly string[]).includes(raw)) {
    throw badRequest(`status must be one of ${INSTANCE_STATUSES.join(', ')} (got ${show(raw)})`);
  }
  return raw as InstanceStatus;
}

export function queryDate(raw: string | null, name: string): number | undefined {
  if (raw === null) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(ms)) throw badRequest(`${name} must be an ISO 8601 date-time in UTC (got ${show(raw)})`);
  return ms;
}

export function oneOf<T extends string>(raw: string | null, name: string, values: readonly T[], fallback: T): T {
  if (raw === null) return fallback;
  if (!(values as readonly string[]).includes(raw))
    throw badRequest(`${name} must be one of ${values.join(', ')} (got ${show(raw)})`);
  return raw as T;
}

/** Byte size of a value's JSON text (params and event payloads are limited to 1 MiB). */
export function checkPayloadSize(value: unknown, what: string): void {
  const text = JSON.stringify(value);
  if (text !== undefined && Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) {
    throw new ApiError(413, CODES.payloadTooLarge, `${what} is larger than 1 MiB (${Buffer.byteLength(text)} bytes)`);
  }
}
