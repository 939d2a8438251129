/** In-process counters of upstream traffic, for tests, the poll loops and diagnostics. */
export interface StatsSnapshot {
  total: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  rateLimited: number;
  deduplicated: number;
  retries: number;
}

export interface UpstreamStats {
  /** Upstream HTTP requests actually sent (retries count; de-duplicated GETs count once). */
  readonly total: number;
  /**
   * Per route template (`GET /workflows/{name}/instances/{id}`) and per status code (`'200'`, or
   * `'network'` when no answer came). `rateLimited` counts 429 answers plus requests our own budget
   * refused; `deduplicated` counts calls that joined an identical GET already in flight.
   */
  snapshot(): StatsSnapshot;
  reset(): void;
}

/** The writable side, used by the client only. */
export class StatsRecorder implements UpstreamStats {
  private counts: StatsSnapshot = StatsRecorder.empty();

  private static empty(): StatsSnapshot {
    return { total: 0, byRoute: {}, byStatus: {}, rateLimited: 0, deduplicated: 0, retries: 0 };
  }

  get total(): number {
    return this.counts.total;
  }

  sent(route: string, isRetry: boolean): void {
    this.counts.total += 1;
    this.counts.byRoute[route] = (this.counts.byRoute[route] ?? 0) + 1;
    if (isRetry) this.counts.retries += 1;
  }

  answered(status: number | 'network'): void {
    const key = String(status);
    this.counts.byStatus[key] = (this.counts.byStatus[key] ?? 0) + 1;
    if (status === 429) this.counts.rateLimited += 1;
  }

  refusedByBudget(): void {
    this.counts.rateLimited += 1;
  }

  deduplicated(): void {
    this.counts.deduplicated += 1;
  }

  snapshot(): StatsSnapshot {
    const c = this.counts;
    return { ...c, byRoute: { ...c.byRoute }, byStatus: { ...c.byStatus } };
  }

  reset(): void {
    this.counts = StatsRecorder.empty();
  }
}
