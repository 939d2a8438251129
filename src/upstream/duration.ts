/**
 * Durations as Cloudflare logs them in a step's config (docs/upstream-contract.md §4.3): a number of
 * milliseconds, or the string the workflow code wrote, `"<number> <unit>"` with the unit singular or plural.
 * Short unit names (`"10s"`, `"5 min"`) and bare numbers (milliseconds) are read too, since workflow code that is
 * not type-checked can pass them.
 */
import type { Duration } from './types.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Milliseconds per unit name; a month is 30 days and a year 365, as the emulator counts them. */
const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  msec: 1,
  millisecond: 1,
  s: SECOND,
  sec: SECOND,
  second: SECOND,
  m: MINUTE,
  min: MINUTE,
  minute: MINUTE,
  h: HOUR,
  hr: HOUR,
  hour: HOUR,
  d: DAY,
  day: DAY,
  w: 7 * DAY,
  week: 7 * DAY,
  month: 30 * DAY,
  y: 365 * DAY,
  yr: 365 * DAY,
  year: 365 * DAY,
};

/** What a retry delay is logged as when the step computes it with a function. */
export const DYNAMIC_DELAY = '[dynamic]';

/** A duration read: its length, and the text it was written as (null when written as milliseconds). */
export interface ReadDuration {
  readonly milliseconds: number;
  readonly text: string | null;
}

/** Reads a logged duration; undefined when the string is not one (`DYNAMIC_DELAY` included). */
export function readDuration(value: Duration): ReadDuration | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? { milliseconds: value, text: null } : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  if (!match) return undefined;
  // A bare number in a string is read as milliseconds, like a number.
  const unit = match[2]!.toLowerCase() || 'ms';
  const perUnit = UNIT_MS[unit] ?? (unit.endsWith('s') ? UNIT_MS[unit.slice(0, -1)] : undefined);
  return perUnit === undefined ? undefined : { milliseconds: Number(match[1]) * perUnit, text: value };
}
