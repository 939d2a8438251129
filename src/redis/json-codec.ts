/**
 * JSON for values kept in Redis that hold dates (instance details): a `Date` travels as `{ "<tag>": ISO }` and
 * comes back a `Date`, so a follower's subscribers and a cache hit see the same shapes as a poll or a fetch. The
 * tag starts with a NUL character, so that an instance's own params or output (any JSON) do not use it by chance.
 */
const DATE_TAG = '\u0000date';

export function encodeJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, encoded: unknown) {
    const raw = this[key];
    return raw instanceof Date ? { [DATE_TAG]: raw.toISOString() } : encoded;
  });
}

export function decodeJson<T>(text: string): T {
  return JSON.parse(text, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const tagged = (value as Record<string, unknown>)[DATE_TAG];
      if (typeof tagged === 'string' && Object.keys(value).length === 1) return new Date(tagged);
    }
    return value;
  }) as T;
}

/** The JavaScript types a message field may be checked for. */
type FieldType = 'string' | 'number';
type TypeOf<T extends FieldType> = T extends 'string' ? string : number;

/**
 * Whether `value`, read from a channel or a key that another replica (or another version) wrote, is an object with
 * each field of `fields` of its type (numbers finite): the shape check of every message before it is trusted.
 */
export function hasFields<F extends Record<string, FieldType>>(
  value: unknown,
  fields: F,
): value is { readonly [K in keyof F]: TypeOf<F[K]> } {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  for (const [name, type] of Object.entries(fields)) {
    const field = record[name];
    if (type === 'number' ? !(typeof field === 'number' && Number.isFinite(field)) : typeof field !== type)
      return false;
  }
  return true;
}
