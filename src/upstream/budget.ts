import type { Priority } from './types.js';

/** What the poll loops read to stretch its intervals. */
export interface BudgetState {
  readonly capacity: number;
  /** Whole tokens an interactive request may use now. */
  readonly available: number;
  /** Whole tokens a background request may use now (what is left above the reserve). */
  readonly backgroundAvailable: number;
  readonly refillPerSecond: number;
}

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly retryAfterMs: number };

/** Part of the capacity that background work may never take, so interactive work always has room. */
export function reserveFor(capacity: number): number {
  // 20 %, at least 3 tokens, but never so much that background work could not run at all.
  return Math.min(Math.max(3, Math.ceil(capacity * 0.2)), Math.floor(capacity / 2));
}

/**
 * The request budget of one credential: a token bucket of `capacity` tokens refilled continuously at
 * `capacity / windowS` per second, mirroring Cloudflare's 1200 requests per 5 minutes. Requests take a
 * token before they are sent and fail fast when none is left; upstream's own view (the `Ratelimit`
 * header, a 429) can only make the bucket stricter.
 */
export class RequestBudget {
  readonly capacity: number;
  readonly refillPerMs: number;
  readonly reserve: number;
  private tokens: number;
  private updatedAt: number;
  /** No token may be taken before this time (a 429's Retry-After). */
  private blockedUntil = 0;
  /** Upstream's remaining count, valid until its reset time: tokens never exceed it before then. */
  private ceiling: { value: number; until: number } | null = null;

  constructor(
    capacity: number,
    windowS: number,
    private readonly now: () => number = Date.now,
  ) {
    this.capacity = capacity;
    this.refillPerMs = capacity / (windowS * 1000);
    this.reserve = reserveFor(capacity);
    this.tokens = capacity;
    this.updatedAt = now();
  }

  private refill(): number {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.updatedAt) * this.refillPerMs);
    this.updatedAt = now;
    if (this.ceiling) {
      if (now >= this.ceiling.until) this.ceiling = null;
      else this.tokens = Math.min(this.tokens, this.ceiling.value);
    }
    return now;
  }

  /** Takes one token, or says how long until a request of this priority could get one. */
  take(priority: Priority): TakeResult {
    const now = this.refill();
    const floor = priority === 'background' ? this.reserve : 0;
    if (now >= this.blockedUntil && this.tokens - floor >= 1) {
      this.tokens -= 1;
      if (this.ceiling) this.ceiling.value -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: this.waitFor(now, floor + 1) };
  }

  private waitFor(now: number, needed: number): number {
    const blocked = Math.max(0, this.blockedUntil - now);
    const missing = Math.max(0, needed - this.tokens);
    let refillWait = missing / this.refillPerMs;
    if (this.ceiling && this.ceiling.value < needed) refillWait = Math.max(refillWait, this.ceiling.until - now);
    return Math.max(1, Math.ceil(Math.max(blocked, refillWait)));
  }

  /**
   * Applies upstream's `Ratelimit: "default";r=<remaining>;t=<seconds>`: our count can only go down to
   * `r`, and stays at most `r` (minus what we send) until upstream's reset `t` seconds from now.
   */
  observe(remaining: number, resetS: number): void {
    const now = this.refill();
    if (remaining >= this.tokens) return;
    this.tokens = Math.max(0, remaining);
    this.ceiling = { value: this.tokens, until: now + resetS * 1000 };
  }

  /** Upstream answered 429: nothing more goes out before `retryAfterMs` has passed. */
  drain(retryAfterMs: number): void {
    const now = this.refill();
    this.tokens = 0;
    this.ceiling = null;
    this.blockedUntil = Math.max(this.blockedUntil, now + retryAfterMs);
  }

  /** Time until an interactive request could be sent (0 when one could go now). */
  interactiveWaitMs(): number {
    const now = this.refill();
    if (now >= this.blockedUntil && this.tokens >= 1) return 0;
    return this.waitFor(now, 1);
  }

  state(): BudgetState {
    const now = this.refill();
    const blocked = now < this.blockedUntil;
    const available = blocked ? 0 : Math.floor(this.tokens);
    return {
      capacity: this.capacity,
      available,
      backgroundAvailable: blocked ? 0 : Math.max(0, Math.floor(this.tokens - this.reserve)),
      refillPerSecond: this.refillPerMs * 1000,
    };
  }
}

/**
 * Parses `Ratelimit: "default";r=<remaining>;t=<seconds>` (IETF structured field, as Cloudflare sends it).
 * Returns null for anything else, so a changed header format can never break requests.
 */
export function parseRateLimitHeader(value: string | undefined): { remaining: number; resetS: number } | null {
  if (!value) return null;
  // Several policies may be listed; the smallest remaining count is the one that binds.
  let best: { remaining: number; resetS: number } | null = null;
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
