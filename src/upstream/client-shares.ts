/** Clients remembered per credential for fairness; the least recently seen is forgotten first. */
const MAX_CLIENTS = 10_000;

/**
 * Fewest requests a client's share (`CLIENT_BUDGET_SHARE`) holds, whatever the share of the limit: a share below
 * one request would never refill to one, and one GraphQL query may need a few upstream requests.
 */
export const MIN_CLIENT_SHARE_REQUESTS = 5;

/** One client's share of the interactive budget: a bucket of `share × capacity`, refilled over a window. */
export interface ClientUsage {
  tokens: number;
  updatedAt: number;
}

/**
 * Fairness among the clients of one credential: with `share` < 1, each client (an interactive request's `client`
 * key) gets at most that share of a window's budget (never less than {@link MIN_CLIENT_SHARE_REQUESTS}) while
 * another client has asked for some within the last window; a lone client may use all of it. Used by every
 * budget (src/upstream/budget.ts, and the shared one of src/redis/), so the rule has one home.
 */
export class ClientShares {
  private readonly clients = new Map<string, ClientUsage>();
  /** The two clients seen last, most recent first, with when: enough to tell whether another one is waiting. */
  private recentClients: (readonly [string, number])[] = [];

  constructor(
    private readonly capacity: number,
    private readonly windowMs: number,
    private readonly share: number,
  ) {}

  /** Requests one client's share holds, refilled over a window. */
  private size(): number {
    return Math.max(this.share * this.capacity, Math.min(this.capacity, MIN_CLIENT_SHARE_REQUESTS));
  }

  /**
   * The client's share, refilled up to now, and marked as seen (it wants budget, served or not); undefined when
   * fairness is off (`share` ≥ 1).
   */
  usage(client: string, now: number): ClientUsage | undefined {
    if (this.share >= 1) return undefined;
    const size = this.size();
    let usage = this.clients.get(client);
    if (usage) {
      this.clients.delete(client);
      usage.tokens = Math.min(size, usage.tokens + ((now - usage.updatedAt) * size) / this.windowMs);
      usage.updatedAt = now;
    } else {
      usage = { tokens: size, updatedAt: now };
      if (this.clients.size >= MAX_CLIENTS) {
        const oldest = this.clients.keys().next().value;
        if (oldest !== undefined) this.clients.delete(oldest);
      }
    }
    // Map order doubles as least-recently-seen order.
    this.clients.set(client, usage);
    const other = this.recentClients.find(([key]) => key !== client);
    this.recentClients = other ? [[client, now], other] : [[client, now]];
    return usage;
  }

  /** How long until `client` may send again (its share is spent while others wait), or 0 when it may now. */
  waitMs(usage: ClientUsage, client: string, now: number): number {
    if (usage.tokens >= 1 || !this.othersActive(client, now)) return 0;
    return Math.max(1, Math.ceil((1 - usage.tokens) / (this.size() / this.windowMs)));
  }

  /** Charges one request to the client's share. */
  charge(usage: ClientUsage): void {
    usage.tokens = Math.max(0, usage.tokens - 1);
  }

  /** Whether a client other than `client` asked for budget within the last window. */
  private othersActive(client: string, now: number): boolean {
    return this.recentClients.some(([key, at]) => key !== client && now - at < this.windowMs);
  }
}
