/**
 * Tiny hand-written readers for untrusted JSON. Each takes the value and its path in the response
 * (`result.steps[2].start`) and either returns a typed value or throws a {@link ShapeError} naming the
 * path and what was expected, so a bad upstream answer is reported precisely instead of crashing later.
 */

export class ShapeError extends Error {
  override readonly name = 'ShapeError';
  constructor(
    readonly path: string,
    readonly expected: string,
    actual: unknown,
  ) {
    super(`${path}: expected ${expected}, got ${describe(actual)}`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? 'a long string' : JSON.stringify(value);
  if (typeof value === 'object') return 'an object';
  return typeof value === 'undefined' ? 'nothing' : `${typeof value} ${String(value)}`;
}

export type Json = Readonly<Record<string, unknown>>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function object(value: unknown, path: string): Json {
  if (!isObject(value)) throw new ShapeError(path, 'an object', value);
  return value;
}

export function array(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value)) throw new ShapeError(path, 'an array', value);
  return value;
}

export function string(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new ShapeError(path, 'a string', value);
  return value;
}

export function nonEmptyString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw new ShapeError(path, 'a non-empty string', value);
  return value;
}

export function number(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ShapeError(path, 'a number', value);
  return value;
}

export function integer(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new ShapeError(path, 'an integer', value);
  return value;
}

export function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new ShapeError(path, 'a boolean', value);
  return value;
}

/**
 * An ISO 8601 date-time string (what every `*_on`, `start`, `end` field holds), read into the Date the domain
 * shapes hold: checking it with `Date.parse` and building the Date later would parse every date twice.
 */
export function dateTime(value: unknown, path: string): Date {
  const date = typeof value === 'string' ? new Date(value) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) throw new ShapeError(path, 'a date-time string', value);
  return date;
}

export function oneOf<T extends string>(value: unknown, values: readonly T[], path: string): T {
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw new ShapeError(path, `one of ${values.join(', ')}`, value);
  }
  return value as T;
}

/** `null` and a missing field both read as null; anything else must pass `read`. */
export function nullable<T>(value: unknown, path: string, read: (value: unknown, path: string) => T): T | null {
  return value === null || value === undefined ? null : read(value, path);
}

/** A missing field reads as undefined; a present one (null included) must pass `read`. */
export function optional<T>(value: unknown, path: string, read: (value: unknown, path: string) => T): T | undefined {
  return value === undefined ? undefined : read(value, path);
}

export function arrayOf<T>(value: unknown, path: string, read: (value: unknown, path: string) => T): T[] {
  return array(value, path).map((item, index) => read(item, `${path}[${index}]`));
}
