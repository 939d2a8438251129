/** The emulator's in-process request log: what tests and benchmarks read to count upstream calls. */

export interface RequestLogEntry {
  readonly method: string;
  /** Decoded path after `/client/v4`. */
  readonly path: string;
  /** Route template such as `GET /accounts/{account_id}/workflows/{workflow_name}`; `UNMATCHED` for unknown routes. */
  readonly route: string;
  readonly status: number;
  readonly accountId: string | null;
  /** Query parameters as sent (the last value of a repeated key), e.g. `{ simple: 'true' }`. */
  readonly query: Readonly<Record<string, string>>;
  /** The raw query string without `?` (`''` when there was none); repeated keys survive here. */
  readonly search: string;
  /** Wall-clock epoch ms when the answer was sent. */
  readonly at: number;
}

export interface RequestFilter {
  method?: string;
  route?: string;
  routeIncludes?: string;
}

export interface RequestLog {
  /** The most recent entries, oldest first (bounded; counts are exact regardless). */
  readonly entries: readonly RequestLogEntry[];
  count(filter?: RequestFilter): number;
  reset(): void;
}

export interface RequestLogWriter extends RequestLog {
  record(entry: RequestLogEntry): void;
}

/** Keeps the last `capacity` entries and exact per-route counters. */
export function createRequestLog(capacity = 50_000): RequestLogWriter {
  let entries: RequestLogEntry[] = [];
  const counts = new Map<string, { method: string; route: string; n: number }>();
  return {
    get entries() {
      return entries;
    },
    record(entry) {
      entries.push(entry);
      // Trim in chunks so a full log costs O(1) amortised per request.
      if (entries.length > capacity * 1.25) entries = entries.slice(-capacity);
      const key = `${entry.method} ${entry.route}`;
      const counter = counts.get(key);
      if (counter) counter.n++;
      else counts.set(key, { method: entry.method, route: entry.route, n: 1 });
    },
    count(filter = {}) {
      let total = 0;
      for (const { method, route, n } of counts.values()) {
        if (filter.method !== undefined && filter.method.toUpperCase() !== method) continue;
        if (filter.route !== undefined && filter.route !== route) continue;
        if (filter.routeIncludes !== undefined && !route.includes(filter.routeIncludes)) continue;
        total += n;
      }
      return total;
    },
    reset() {
      entries = [];
      counts.clear();
    },
  };
}
