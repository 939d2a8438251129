import { ClientShares } from './client-shares.js';
import type { Credential, Priority } from './types.js';

export { MIN_CLIENT_SHARE_REQUESTS } from './client-shares.js';

/** What the poll loops read to pace themselves. */
export interface BudgetState {
  readonly capacity: number;
  /** Whole requests an interactive request may send now. */
  readonly available: number;
  /** Whole requests background work may send now (what is left above the interactive reserve). */
  readonly backgroundAvailable: number;
  /** Requests per second background work may make from now on and still leave interactive work its reserve. */
  readonly backgroundRatePerSecond: number;
  /** Time until background work may send its next request (0 while `backgroundAvailable` > 0). */
  readonly backgroundWaitMs: number;
  /** Time until the upstream window we mirror resets (everything is available again then); null when none is known. */
  readonly resetInMs: number | null;
}

export type TakeResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly retryAfterMs: number; readonly reason: 'budget' | 'client-share' };

/** What upstream's `Ratelimit` header says: `remaining` requests until it resets in `resetS` seconds. */
export interface RateLimitObservation {
  readonly remaining: number;
  readonly resetS: number;
}

/**
 * One credential's request budget, as the client (src/upstream/client.ts) uses it before and after each attempt.
 * {@link RequestBudget} is the in-process one; with `REDIS_URL`, src/redis/ injects one shared by every replica
 * (through {@link BudgetFactory}).
 */
export interface Budget {
  /**
   * Takes one request from the budget, or says how long until one of this priority could go. Every taken request
   * must be followed by exactly one {@link settle}. The in-process budget answers synchronously; a shared one may
   * answer with a promise when it has to ask elsewhere first (it never rejects).
   */
  take(priority: Priority, client?: string): TakeResult | Promise<TakeResult>;
  /** A taken request has ended: with upstream's `Ratelimit` of its answer, or null when no answer came. */
  settle(observation: RateLimitObservation | null): void;
  /** Upstream answered 429: nothing more goes out before `retryAfterMs` (unknown: a default) has passed. */
  refused(retryAfterMs: number | null): void;
  /** Time until an interactive request could be sent (0 when one could go now). */
  interactiveWaitMs(): number;
  /** What the poll loops read to pace themselves. */
  state(): BudgetState;
}

/** Builds the budget of one credential (`createUpstream`'s `budgets` option); called once per credential kept. */
export type BudgetFactory = (credential: Credential) => Budget;

/** Share of what is left that background work leaves to interactive requests. */
export const RESERVE_SHARE = 0.2;
/** How long a 429 without `Retry-After` (or `Ratelimit` reset) stops every request. */
export const DEFAULT_429_WAIT_MS = 1000;
/** Upstream windows mirrored at once (see `RequestBudget.binding`). */
export const MAX_MIRRORED_WINDOWS = 4;

/**
 * How far apart two answers' resets may be and still name the same upstream window: the rounding of `t` to whole
 * seconds (and the time an answer travels); the next window resets about a window later.
 */
export const sameWindowToleranceMs = (windowMs: number): number => Math.max(1000, windowMs / 2);

/**
 * Requests of upstream's reported window we never plan to use, against what we cannot see: a request counted
 * but reported with a higher `r` than a later one (answers may overtake each other on the way back).
 */
export const SAFETY_MARGIN = 1;

/**
 * Time added to the reset an answer names (`Ratelimit: t`), against a `t` rounded down to whole seconds or an
 * answer that spent time on its way back: the mirrored window ends no earlier than upstream's
 * (docs/upstream-contract.md §1.4).
 */
export const RESET_MARGIN_MS = 1000;

/** One upstream window as its `Ratelimit` answers describe it: the lowest `remaining` seen, valid until the earliest reset seen. */
interface MirroredWindow {
  remaining: number;
  until: number;
}

/**
 * The request budget of one credential. Three limits apply to every request, and the strictest wins:
 *
 * - our own token bucket of `capacity` tokens, refilled continuously at `capacity / windowS` per second
 *   (Cloudflare's 1200 requests per 5 minutes), which is all we know before upstream has answered;
 * - a mirror of the window upstream reports (`Ratelimit: r` until `t`): the lowest `r` seen, minus the
 *   requests still in flight (upstream may not have counted them when it answered), minus a small margin,
 *   so that no more than the limit ever goes into one upstream window (docs/upstream-contract.md §1.4);
 * - after a 429, nothing until its `Retry-After`, and then everything resumes at once.
 *
 * Background work (polls) leaves interactive work a reserve: of the own bucket, {@link RESERVE_SHARE} of what it
 * holds; of a mirrored window, a share of what it still allows that shrinks to nothing at its reset. So background
 * work always gets a share of what is actually left, and slows down, but never stops, as the window runs low. A
 * reserve of a share of what is left alone would shrink with it: polls that spend a window as fast as it lets them
 * leave interactive requests nothing in its last seconds, however few they are. So a mirrored window's reserve
 * follows interactive work's recent rate too: the requests taken, counted down exponentially with the window's
 * length as time constant (a steady r per window counts r), are what it would need in a window, and the reserve
 * is that much until the reset (pro rata) when it is more than {@link RESERVE_SHARE} of what is left, but never more
 * than `1 − RESERVE_SHARE` of it (see `mirrorReserve`).
 *
 * Fairness: with `clientShare` < 1, each client gets at most that share of a window's budget while others wait
 * (src/upstream/client-shares.ts).
 */
export class RequestBudget implements Budget {
  readonly capacity: number;
  readonly refillPerMs: number;
  private readonly windowMs: number;
  private tokens: number;
  private updatedAt: number;
  /** No request may be sent before this time (a 429's Retry-After). */
  private blockedUntil = 0;
  /** Requests sent whose answer has not arrived. */
  private inFlight = 0;
  /** Requests that ended without an answer while a window was mirrored: upstream may have counted them. */
  private unanswered = 0;
  /** Upstream windows reported and not yet reset (at most a few; see {@link binding}). */
  private windows: MirroredWindow[] = [];
  /**
   * Requests we may still send while no window is mirrored and requests are in flight: what the own bucket held
   * when the first of them went. The bucket's refill meanwhile is not counted: upstream may count those
   * requests in one window, and its answers (which would say so) are not back yet.
   */
  private blindLeft: number | null = null;
  private readonly shares: ClientShares;
  /** Interactive requests taken recently (decaying: see the class comment), as of `updatedAt`. */
  private recentInteractive = 0;

  constructor(
    capacity: number,
    windowS: number,
    private readonly now: () => number = Date.now,
    clientShare = 1,
  ) {
    this.capacity = capacity;
    this.windowMs = windowS * 1000;
    this.shares = new ClientShares(capacity, this.windowMs, clientShare);
    this.refillPerMs = capacity / this.windowMs;
    this.tokens = capacity;
    this.updatedAt = now();
  }

  private refill(): number {
    const now = this.now();
    // A clock that stepped back refills nothing (and takes nothing away).
    if (now > this.updatedAt) {
      this.tokens = Math.min(this.capacity, this.tokens + (now - this.updatedAt) * this.refillPerMs);
      this.recentInteractive *= Math.exp((this.updatedAt - now) / this.windowMs);
    }
    this.updatedAt = now;
    const before = this.windows.length;
    this.windows = this.windows.filter((w) => now < w.until);
    // Whatever unanswered requests cost, it was charged to a window that has ended.
    if (this.windows.length < before) this.unanswered = 0;
    return now;
  }

  /**
   * The mirrored window that allows the fewest requests. An answer that took long on its way back names a
   * reset later than its window's real one (`t` counts from when upstream answered), so it can look like a
   * window of its own; and answers of the next window may come before the current one has ended. Which of
   * them upstream applies now is unknown, so the strictest binds.
   */
  private binding(): MirroredWindow | undefined {
    let strictest: MirroredWindow | undefined;
    for (const window of this.windows) if (!strictest || window.remaining <= strictest.remaining) strictest = window;
    return strictest;
  }

  /** Requests the mirrored window still allows us (Infinity when upstream has reported none). */
  private mirrorLeft(): number {
    const current = this.binding();
    if (!current) return this.blindLeft ?? Infinity;
    return current.remaining - this.inFlight - this.unanswered - SAFETY_MARGIN;
  }

  /**
   * Requests of the mirrored window's `left` that background work leaves to interactive work at `now` (0 when none
   * is mirrored). A share of a window that shrinks linearly to nothing at the reset, of the larger of two amounts:
   * {@link RESERVE_SHARE} of `left`, and the interactive requests taken recently (what interactive work would need
   * in a window at its recent rate). Background work keeps as much for itself: at most `1 − RESERVE_SHARE` of
   * `left` is reserved a window before the reset, less as it comes nearer.
   */
  private mirrorReserve(now: number, left: number): number {
    const current = this.binding();
    if (!current) return 0;
    const share = Math.min(1, Math.max(0, (current.until - now) / this.windowMs));
    return Math.min(this.reserveBase(left) * share, left * (1 - RESERVE_SHARE * share));
  }

  /** What {@link mirrorReserve} takes its share of: whichever of its two amounts is larger. */
  private reserveBase(left: number): number {
    return Math.max(RESERVE_SHARE * left, this.recentInteractive);
  }

  private interactiveLeft(now: number): number {
    if (now < this.blockedUntil) return 0;
    return Math.max(0, Math.floor(Math.min(this.tokens, this.mirrorLeft())));
  }

  private backgroundLeft(now: number): number {
    if (now < this.blockedUntil) return 0;
    const own = (1 - RESERVE_SHARE) * this.tokens;
    const left = Math.max(0, this.mirrorLeft());
    const mirror = left - this.mirrorReserve(now, left);
    // The tolerance absorbs rounding: after exactly the wait `waitMs` names, `own` may come out a hair below 1.
    return Math.max(0, Math.floor(Math.min(own, mirror) + 1e-9));
  }

  /**
   * Takes one request from the budget, or says how long until one of this priority could go. Every taken
   * request must be followed by exactly one {@link settle}.
   */
  take(priority: Priority, client?: string): TakeResult {
    const now = this.refill();
    const usage = priority === 'interactive' && client !== undefined ? this.shares.usage(client, now) : undefined;
    const left = priority === 'background' ? this.backgroundLeft(now) : this.interactiveLeft(now);
    if (left < 1) return { ok: false, retryAfterMs: this.waitMs(priority, now), reason: 'budget' };
    const shareWait = usage && client !== undefined ? this.shares.waitMs(usage, client, now) : 0;
    if (shareWait > 0) return { ok: false, retryAfterMs: shareWait, reason: 'client-share' };
    if (this.windows.length === 0) this.blindLeft = (this.blindLeft ?? Math.floor(this.tokens) - this.inFlight) - 1;
    this.tokens -= 1;
    this.inFlight += 1;
    if (priority === 'interactive') this.recentInteractive += 1;
    if (usage) this.shares.charge(usage);
    return { ok: true };
  }

  /**
   * A request taken with {@link take} has ended: with upstream's `Ratelimit` of its answer, or null when no
   * answer came (then upstream may or may not have counted it).
   */
  settle(observation: RateLimitObservation | null): void {
    const now = this.refill();
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (observation) this.observe(observation, now);
    else if (this.windows.length > 0) this.unanswered += 1;
    if (this.windows.length > 0 || this.inFlight === 0) this.blindLeft = null;
  }

  private observe({ remaining, resetS }: RateLimitObservation, now: number): void {
    if (!(resetS > 0)) return;
    const until = now + resetS * 1000 + RESET_MARGIN_MS;
    // Answers of one window name the same reset give or take the rounding of `t` to whole seconds (and the
    // time an answer travels); the next window resets about a window later.
    const tolerance = sameWindowToleranceMs(this.windowMs);
    const same = this.windows.find((w) => Math.abs(w.until - until) < tolerance);
    if (same) {
      same.remaining = Math.min(same.remaining, remaining);
      same.until = Math.min(same.until, until);
      return;
    }
    this.windows.push({ remaining, until });
    // Bounded: the ones resetting last are the least informative about now.
    if (this.windows.length > MAX_MIRRORED_WINDOWS)
      this.windows = this.windows.sort((a, b) => a.until - b.until).slice(0, MAX_MIRRORED_WINDOWS);
  }

  /**
   * Lowers this budget to what another source knows is left (src/redis/: a replica's local share of a shared
   * budget, when the shared one cannot be reached): at most `tokens` in the own bucket, `window` mirrored as if
   * upstream had answered with it, and nothing before `blockedForMs` has passed. Never raises anything.
   */
  restrict(limits: { tokens: number; window: RateLimitObservation | null; blockedForMs: number }): void {
    const now = this.refill();
    this.tokens = Math.min(this.tokens, Math.max(0, limits.tokens));
    if (limits.window) this.observe(limits.window, now);
    this.blockedUntil = Math.max(this.blockedUntil, now + Math.max(0, limits.blockedForMs));
  }

  /** Upstream answered 429: nothing more goes out before `retryAfterMs` (unknown: a second) has passed. */
  refused(retryAfterMs: number | null): void {
    const now = this.refill();
    this.blockedUntil = Math.max(this.blockedUntil, now + (retryAfterMs ?? DEFAULT_429_WAIT_MS));
  }

  /** Time until an interactive request could be sent (0 when one could go now). */
  interactiveWaitMs(): number {
    const now = this.refill();
    return this.interactiveLeft(now) >= 1 ? 0 : this.waitMs('interactive', now);
  }

  private waitMs(priority: Priority, now: number): number {
    const blocked = Math.max(0, this.blockedUntil - now);
    // Background work may take a token once the reserve's share of the bucket leaves it a whole one.
    const needed = priority === 'background' ? 1 / (1 - RESERVE_SHARE) : 1;
    let wait = Math.max(0, (needed - this.tokens) / this.refillPerMs);
    const current = this.binding();
    if (current) {
      const left = this.mirrorLeft();
      if (left < 1) {
        // Answers in flight cannot raise `r`: only the reset brings requests back.
        wait = Math.max(wait, current.until - now);
      } else if (priority === 'background' && left - this.mirrorReserve(now, left) < 1) {
        // The reserve shrinks linearly to the reset: background work may go once `left − reserve` ≥ 1, i.e. once
        // the reset is at most `(left − 1) / reserveBase` windows away (sooner if interactive work slows down
        // meanwhile: the poll loops read the state again after this wait). The part background work keeps for
        // itself only shrinks from here.
        const at = current.until - Math.min(1, (left - 1) / this.reserveBase(left)) * this.windowMs;
        wait = Math.max(wait, at - now);
      }
    }
    return Math.max(1, Math.ceil(Math.max(blocked, wait)));
  }

  state(): BudgetState {
    const now = this.refill();
    const backgroundAvailable = this.backgroundLeft(now);
    const current = this.binding();
    const resetInMs = current ? Math.max(0, current.until - now) : null;
    let rate = (1 - RESERVE_SHARE) * this.refillPerMs * 1000;
    if (current && resetInMs !== null && resetInMs > 0) {
      const left = Math.max(0, this.mirrorLeft());
      const spare = Math.max(0, left - this.mirrorReserve(now, left));
      rate = Math.min(rate, (spare / resetInMs) * 1000);
    }
    return {
      capacity: this.capacity,
      available: this.interactiveLeft(now),
      backgroundAvailable,
      backgroundRatePerSecond: rate,
      backgroundWaitMs: backgroundAvailable > 0 ? 0 : this.waitMs('background', now),
      resetInMs,
    };
  }
}

/**
 * Parses `Ratelimit: "default";r=<remaining>;t=<seconds>` (IETF structured field, as Cloudflare sends it).
 * Returns null for anything else, so a changed header format can never break requests.
 */
export function parseRateLimitHeader(value: string | undefined): RateLimitObservation | null {
  if (!value) return null;
  // Several policies may be listed; the smallest remaining count is the one that binds.
  let best: RateLimitObservation | null = null;
  for (const item of value.split(',')) {
    const params = new Map<string, string>();
    for (const part of item.split(';').slice(1)) {
      const eq = part.indexOf('=');
      if (eq > 0) params.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const r = Number(params.get('r'));
    const t = Number(params.get('t') ?? '0');
    if (!params.has('r') || !Number.isFinite(r) || r < 0 || !Number.isFinite(t) || t < 0) continue;
    if (!best || r < best.remaining) best = { remaining: r, resetS: t };
  }
  return best;
}
