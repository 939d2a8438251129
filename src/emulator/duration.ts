/** Durations as workflow authors write them (docs/upstream-contract.md §4.3): milliseconds, or "<number> <unit>". */

const UNIT_MS: Readonly<Record<string, number>> = {
  millisecond: 1,
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
  month: 30 * 86_400_000,
  year: 365 * 86_400_000,
};

export type Duration = number | string;

/** Milliseconds of `value`, or undefined when it is not a valid duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$/i.exec(value);
  if (!match) return undefined;
  const unit = UNIT_MS[match[2]!.toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(match[1]) * unit);
}

/** Like {@link parseDuration} but throws a TypeError naming `what`. */
export function requireDuration(value: unknown, what: string): number {
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new TypeError(
      `${what} must be a number of milliseconds or a string like "10 seconds" (got ${JSON.stringify(value)})`,
    );
  return ms;
}
