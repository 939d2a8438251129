/**
 * Params checks for the demo workflows, written as a careful workflow author writes them: a field of the
 * wrong type fails the instance at once with a `NonRetryableError` that names the field, instead of crashing a
 * later step and spending its retries. Fields are optional and `null` counts as absent. Unknown fields are
 * ignored, and a payload that is not an object has no fields, so the defaults apply (the emulator hands any JSON
 * value to `run()` unchanged, and the official SDK types params as a string).
 */
import { NonRetryableError } from '../engine/model.js';

export type Fields = Readonly<Record<string, unknown>>;

/** The fields of a payload: its own properties when it is a JSON object, none otherwise. */
export function fieldsOf(payload: unknown): Fields {
  return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Fields) : {};
}

/** Fails the instance without retries, naming the field (a dotted path such as `items[0].quantity`). */
export function invalidParam(field: string, expected: string, value: unknown): never {
  const shown = JSON.stringify(value) ?? String(value);
  throw new NonRetryableError(
    `Invalid params: "${field}" must be ${expected} (got ${shown.length > 60 ? `${shown.slice(0, 60)}…` : shown})`,
  );
}

export function optionalString(fields: Fields, field: string): string | undefined {
  const value = fields[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '') invalidParam(field, 'a non-empty string', value);
  return value;
}

export function optionalBoolean(fields: Fields, field: string): boolean | undefined {
  const value = fields[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') invalidParam(field, 'true or false', value);
  return value;
}

export function optionalOneOf<T extends string>(fields: Fields, field: string, values: readonly T[]): T | undefined {
  const value = fields[field];
  if (value === undefined || value === null) return undefined;
  if (!(values as readonly unknown[]).includes(value)) invalidParam(field, `one of ${values.join(', ')}`, value);
  return value as T;
}

/** An integer of at least `min`; `field` is the full path for the message. */
export function integerAtLeast(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    invalidParam(field, `a whole number of at least ${min}`, value);
  }
  return value;
}
