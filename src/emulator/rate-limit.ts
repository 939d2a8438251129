/** Opt-in per-token rate limiting with the headers of Cloudflare's 2025-09 change (docs/upstream-contract.md §1.4). */

export interface RateLimitResult {
  readonly allowed: boolean;
  readonly headers: Record<string, string>;
}

export interface RateLimiter {
  take(key: string, nowMs: number): RateLimitResult;
  /** Counts `count` requests for `key` as if another client of the same credential had sent them (tests). */
  spend(key: string, count: number, nowMs: number): void;
}

/** Fixed windows of `windowS` seconds per key, starting at the key's first request. */
export function createRateLimiter({ limit, windowS }: { limit: number; windowS: number }): RateLimiter {
  if (!(Number.isInteger(limit) && limit >= 1))
    throw new RangeError(`rateLimit.limit must be a positive integer (got ${limit})`);
  if (!(windowS > 0)) throw new RangeError(`rateLimit.windowS must be positive (got ${windowS})`);
  const windows = new Map<string, { start: number; used: number }>();
  const windowOf = (key: string, now: number) => {
    let window = windows.get(key);
    if (!window || now >= window.start + windowS * 1000) {
      window = { start: now, used: 0 };
      windows.set(key, window);
    }
    return window;
  };
  return {
    spend(key, count, now) {
      const window = windowOf(key, now);
      window.used = Math.min(limit, window.used + count);
    },
    take(key, now) {
      const window = windowOf(key, now);
      const allowed = window.used < limit;
      if (allowed) window.used++;
      const resetS = Math.max(1, Math.ceil((window.start + windowS * 1000 - now) / 1000));
      const headers: Record<string, string> = {
        ratelimit: `"default";r=${limit - window.used};t=${resetS}`,
        'ratelimit-policy': `"burst";q=${limit};w=${windowS}`,
      };
      if (!allowed) headers['retry-after'] = String(resetS);
      return { allowed, headers };
    },
  };
}
