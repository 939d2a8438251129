/** Upstream requests the emulator answered since the last reset, by the routes the scenarios reason about. */
export interface RequestCounts {
  readonly total: number;
  /** GET .../workflows/{name}/instances */
  readonly instanceLists: number;
  /** GET .../workflows/{name}/instances/{id} (with or without `simple`) */
  readonly instanceGets: number;
  /** PATCH .../instances/{id}/status */
  readonly statusChanges: number;
  /** Answers with status 429. */
  readonly rateLimited: number;
  /** `METHOD route-template` → answers, from the bounded log (exact below 50,000 requests since the reset). */
  readonly byRoute: Readonly<Record<string, number>>;
  /** Epoch ms of the first and of the last answer since the reset; null when there was none. */
  readonly firstAt: number | null;
  readonly lastAt: number | null;
}

/**
 * Requests per `intervalMs` between the first and the last answer: `(total - 1)` intervals' worth over their span.
 * A loop polling once per interval scores exactly 1 whatever the phase of the counting window (a plain count over a
 * window of 8 intervals holds 8 or 9 polls); NaN with fewer than two answers.
 */
export function requestsPerInterval(counts: RequestCounts, intervalMs: number): number {
  if (counts.total < 2 || counts.firstAt === null || counts.lastAt === null || counts.lastAt <= counts.firstAt)
    return Number.NaN;
  return (counts.total - 1) / ((counts.lastAt - counts.firstAt) / intervalMs);
}

/** `GET …/instances/{instance_id} ×50, GET …/instances ×1`: the breakdown, shortest route names, most frequent first. */
export function describeRoutes(counts: RequestCounts): string {
  return Object.entries(counts.byRoute)
    .sort(([, a], [, b]) => b - a)
    .map(([route, n]) => `${route.replace('/accounts/{account_id}/workflows', '…')} ×${n}`)
    .join(', ');
}
