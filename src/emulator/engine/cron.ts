/** Next fire time of a 5-field cron expression (minute hour day-of-month month day-of-week), in UTC. */

const RANGES: readonly [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

function parseField(text: string, [min, max]: [number, number]): Set<number> | undefined {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const match = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!match) return undefined;
    const from = match[1] === '*' ? min : Number(match[2]);
    const to = match[1] === '*' ? max : match[3] !== undefined ? Number(match[3]) : match[4] !== undefined ? max : from;
    const step = match[4] !== undefined ? Number(match[4]) : 1;
    if (from < min || to > max || from > to || step < 1) return undefined;
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

/** Returns undefined for expressions it cannot parse (they are then never fired). */
export function parseCron(expression: string): Set<number>[] | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return undefined;
  const sets: Set<number>[] = [];
  for (let i = 0; i < 5; i++) {
    const set = parseField(fields[i]!, RANGES[i]!);
    if (!set) return undefined;
    sets.push(set);
  }
  if (sets[4]!.has(7)) sets[4]!.add(0);
  return sets;
}

export function isValidCron(expression: string): boolean {
  return expression.length <= 256 && parseCron(expression) !== undefined;
}

/** First matching minute strictly after `after` (epoch ms), searching up to about 4 years ahead. */
export function nextCronTime(expression: string, after: number): number | undefined {
  const sets = parseCron(expression);
  if (!sets) return undefined;
  const [minutes, hours, days, months, weekdays] = sets as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  const domAny = days.size === 31;
  const dowAny = weekdays.size >= 7;
  const t = new Date(Math.floor(after / 60_000) * 60_000 + 60_000);
  const limit = after + 4 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    const domOk = days.has(t.getUTCDate());
    const dowOk = weekdays.has(t.getUTCDay());
    // Standard cron: when both day fields are restricted, either may match.
    const dayOk = domAny && dowAny ? true : domAny ? dowOk : dowAny ? domOk : domOk || dowOk;
    if (!dayOk) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return t.getTime();
  }
  return undefined;
}
