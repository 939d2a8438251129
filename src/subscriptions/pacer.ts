import type { Config } from '../config.js';

/** What the upstream client tells about one credential's request budget (a token bucket). */
export interface BudgetSnapshot {
  readonly capacity: number;
  readonly available: number;
  /** Tokens background work may still take: `available` minus the reserve kept for interactive calls. */
  readonly backgroundAvailable: number;
  readonly refillPerSecond: number;
}

export interface BudgetSource {
  budget(credentialKey: string): BudgetSnapshot;
}

/**
 * Shares one credential's background request rate among its poll loops.
 *
 * Each loop reports its demand (requests per second it would make at its preferred interval). When the
 * sum exceeds the sustainable background rate (the refill rate minus the share kept for interactive
 * calls), every loop's interval is stretched by the same factor, so everything watched slows down evenly
 * and nothing is starved or dropped. When the bucket is nearly empty right now, a loop additionally waits
 * until the bucket can pay for its next cycle.
 */
export class Pacer {
  private readonly demands = new Map<object, number>();
  private largestReserveSeen = 0;

  constructor(
    private readonly source: BudgetSource,
    private readonly credentialKey: string,
    private readonly configuredLimit: Pick<Config['upstream'], 'rateLimit' | 'rateWindowS'>,
  ) {}

  get loops(): number {
    return this.demands.size;
  }

  /** Records that `loop` would make `requestsPerSecond` at its preferred interval. */
  setDemand(loop: object, requestsPerSecond: number): void {
    this.demands.set(loop, Math.max(0, requestsPerSecond));
  }

  remove(loop: object): void {
    this.demands.delete(loop);
  }

  /** Requests per second all loops of this credential may make together without touching the reserve. */
  sustainableRate(): number {
    const budget = this.currentBudget();
    // The reserve is only visible while the bucket holds more than it, so remember the largest seen.
    this.largestReserveSeen = Math.max(this.largestReserveSeen, budget.available - budget.backgroundAvailable);
    const share = budget.capacity > 0 ? Math.min(1, this.largestReserveSeen / budget.capacity) : 0;
    return Math.max(budget.refillPerSecond * (1 - share), Number.EPSILON);
  }

  /**
   * The delay before a loop's next cycle: its preferred interval, stretched when the loops together want
   * more than the sustainable rate, and lengthened until the bucket can pay for `cost` requests.
   *
   * The interval runs from the start of the previous cycle (fixed rate), so `elapsedMs` (time since that
   * start) is taken off it, down to 0: a cycle that overran its interval is followed at once, but only
   * once, never by a burst to catch up. The wait for the bucket runs from now.
   */
  delayFor(preferredMs: number, cost: number, elapsedMs = 0): number {
    const rate = this.sustainableRate();
    let demand = 0;
    for (const value of this.demands.values()) demand += value;
    const stretch = Math.max(1, demand / rate);
    let delay = Math.max(0, preferredMs * stretch - Math.max(0, elapsedMs));
    const budget = this.currentBudget();
    if (cost > 0 && budget.backgroundAvailable < cost && budget.refillPerSecond > 0) {
      delay = Math.max(delay, ((cost - budget.backgroundAvailable) / budget.refillPerSecond) * 1000);
    }
    return Math.ceil(delay);
  }

  private currentBudget(): BudgetSnapshot {
    try {
      return this.source.budget(this.credentialKey);
    } catch {
      // No bucket yet for this credential (nothing sent so far): assume a full one of the configured size.
      const refill = this.configuredLimit.rateLimit / this.configuredLimit.rateWindowS;
      return {
        capacity: this.configuredLimit.rateLimit,
        available: this.configuredLimit.rateLimit,
        backgroundAvailable: this.configuredLimit.rateLimit,
        refillPerSecond: refill,
      };
    }
  }
}
