import type { BudgetState } from '../upstream/budget.js';

export interface BudgetSource {
  /** The credential's budget now; a credential not used yet has a whole one. */
  budget(credentialKey: string): BudgetState;
}

/**
 * Shares one credential's background request rate among its poll loops.
 *
 * Each loop reports its demand (requests per second it would make at its preferred interval). When the
 * sum exceeds the rate the budget can give background work (`backgroundRatePerSecond`: a share of what is
 * left until upstream's window resets, or of the refill rate), every loop's interval is stretched by the same
 * factor, so everything watched slows down evenly and nothing is starved or dropped. A stretch never reaches
 * past the window's reset, when the budget is whole again; and when background work may send nothing right
 * now, a loop waits until it may.
 */
export class Pacer {
  private readonly demands = new Map<object, number>();

  constructor(
    private readonly source: BudgetSource,
    private readonly credentialKey: string,
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

  /**
   * The delay before a loop's next cycle: its preferred interval, stretched when the loops together want
   * more than the budget gives background work, and at least until background work may send again.
   *
   * The interval runs from the start of the previous cycle (fixed rate), so `elapsedMs` (time since that
   * start) is taken off it, down to 0: a cycle that overran its interval is followed at once, but only
   * once, never by a burst to catch up. The wait for the budget runs from now.
   */
  delayFor(preferredMs: number, elapsedMs = 0): number {
    const budget = this.source.budget(this.credentialKey);
    let demand = 0;
    for (const value of this.demands.values()) demand += value;
    const stretch = Math.max(1, demand / Math.max(budget.backgroundRatePerSecond, Number.EPSILON));
    let delay = preferredMs * stretch;
    // After the reset the window is whole again: pacing by what is left of this one would wait too long.
    if (budget.resetInMs !== null && delay > budget.resetInMs) delay = Math.max(preferredMs, budget.resetInMs);
    delay = Math.max(0, delay - Math.max(0, elapsedMs));
    if (budget.backgroundAvailable < 1) delay = Math.max(delay, budget.backgroundWaitMs);
    return Math.ceil(delay);
  }
}
