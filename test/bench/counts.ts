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
}

/** `GET …/instances/{instance_id} ×50, GET …/instances ×1`: the breakdown, shortest route names, most frequent first. */
export function describeRoutes(counts: RequestCounts): string {
  return Object.entries(counts.byRoute)
    .sort(([, a], [, b]) => b - a)
    .map(([route, n]) => `${route.replace('/accounts/{account_id}/workflows', '…')} ×${n}`)
    .join(', ');
}
