import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/emulator/rate-limit.js';
import { Pacer } from '../../src/subscriptions/pacer.js';
import {
  MIN_CLIENT_SHARE_REQUESTS,
  parseRateLimitHeader,
  RequestBudget,
  RESET_MARGIN_MS,
} from '../../src/upstream/budget.js';
import type { Priority } from '../../src/upstream/types.js';
import { manualClock } from '../helpers/manual-clock.js';
import { seededRandom } from '../helpers/random.js';

/** Cloudflare's limit (1200 per 5 minutes) on a manual clock. */
function cloudflareBudget(clientShare = 1) {
  const time = manualClock();
  return { time, budget: new RequestBudget(1200, 300, time.now, clientShare) };
}

/**
 * Benchmark S5's shape on a millisecond clock: 60 requests per 15 s, one poll loop paced by the real {@link Pacer}
 * that would send five list pages a second (each page after the previous one's answer), and interactive requests
 * arriving at random (exponential gaps) at `queriesPerSecond`. Upstream is the emulator's limiter; each request is
 * counted there after 5–15 ms and answered after 10–30 ms.
 */
function simulatePolling(queriesPerSecond: number, seed: number) {
  const limit = 60;
  const windowMs = 15_000;
  const windows = 20;
  const pages = 5;
  let now = 1_000_000;
  const budget = new RequestBudget(limit, windowMs / 1000, () => now);
  const limiter = createRateLimiter({ limit, windowS: windowMs / 1000 });
  const pacer = new Pacer({ budget: () => budget.state() }, 'credential');
  pacer.setDemand({}, pages);
  const rand = seededRandom(seed);
  const sent: Record<Priority, number> = { interactive: 0, background: 0 };
  /** When queries were refused, in ms from the start. */
  const refusedAt: number[] = [];
  let overLimit = 0;
  interface Flight {
    readonly countAt: number;
    readonly answerAt: number;
    ratelimit?: string;
  }
  const flights: Flight[] = [];
  const send = (priority: Priority): Flight | number => {
    const taken = budget.take(priority);
    if (!taken.ok) return taken.retryAfterMs;
    const latency = 10 + Math.floor(rand() * 20);
    const flight = { countAt: now + latency / 2, answerAt: now + latency };
    flights.push(flight);
    sent[priority]++;
    return flight;
  };
  let cycle: { readonly start: number; page: number; waiting: Flight | undefined } | undefined;
  let nextCycle = now;
  let nextQuery = now;
  const start = now;
  for (const end = now + windows * windowMs; now < end; now++) {
    for (const flight of flights) {
      if (flight.ratelimit !== undefined || flight.countAt > now) continue;
      const verdict = limiter.take('token', now);
      if (!verdict.allowed) overLimit++;
      flight.ratelimit = verdict.headers.ratelimit;
    }
    for (const flight of flights.filter((f) => f.ratelimit !== undefined && f.answerAt <= now)) {
      flights.splice(flights.indexOf(flight), 1);
      budget.settle(parseRateLimitHeader(flight.ratelimit));
      if (cycle?.waiting === flight) cycle.waiting = undefined;
    }
    if (!cycle && now >= nextCycle) cycle = { start: now, page: 0, waiting: undefined };
    if (cycle && !cycle.waiting) {
      if (cycle.page === pages) {
        nextCycle = Math.max(now, cycle.start + pacer.delayFor(1000));
        cycle = undefined;
      } else {
        const page = send('background');
        if (typeof page === 'number') {
          nextCycle = now + page;
          cycle = undefined;
        } else {
          cycle.waiting = page;
          cycle.page++;
        }
      }
    }
    if (now >= nextQuery) {
      if (typeof send('interactive') === 'number') refusedAt.push(now - start);
      nextQuery = now + Math.max(1, Math.floor((-Math.log(1 - rand()) * 1000) / queriesPerSecond));
    }
  }
  return { sent, refusedAt, overLimit, usable: windows * (limit - 1), windowMs };
}

describe('the request budget (RequestBudget, manual clock)', () => {
  it('keeps queries at a quarter of the limit from refusal while polls want more than all of it', () => {
    for (const seed of [1, 2, 3]) {
      const { refusedAt, overLimit, windowMs } = simulatePolling(1, seed);
      expect(overLimit).toBe(0);
      // The reserve follows demand, so the first window, which began before any query, may refuse a few at its
      // end (the budget keeps it up to 2 s longer: `t` rounded up to whole seconds, and RESET_MARGIN_MS).
      // Before: polls spent each window as fast as a reserve of 20 % of what was left let them, and queries that
      // came in a window's last seconds found nothing left.
      const firstWindowEnds = windowMs + 1000 + RESET_MARGIN_MS;
      expect(
        refusedAt.filter((at) => at > firstWindowEnds),
        `seed ${seed}`,
      ).toEqual([]);
    }
  });

  it('refuses few queries at half the limit, and polls still get a share', () => {
    for (const seed of [1, 2, 3]) {
      const { sent, refusedAt, overLimit, usable, windowMs } = simulatePolling(2, seed);
      expect(overLimit).toBe(0);
      // Before: one in six (86 of 525 with seed 1).
      const refused = refusedAt.filter((at) => at > windowMs + 1000 + RESET_MARGIN_MS).length;
      expect(refused, `seed ${seed}`).toBeLessThan(0.01 * sent.interactive);
      expect(sent.background).toBeGreaterThan(0.1 * usable);
    }
  });

  it('leaves polls nearly everything when queries are rare', () => {
    const { sent, refusedAt, usable } = simulatePolling(0.25, 1);
    expect(refusedAt).toEqual([]);
    expect(sent.background).toBeGreaterThan(0.7 * usable);
  });

  it('sizes the interactive reserve from what is left now when another client drains the window later', () => {
    const { time, budget } = cloudflareBudget();
    expect(budget.take('interactive').ok).toBe(true);
    budget.settle({ remaining: 1199, resetS: 300 });
    time.advance(10_000);
    // Another client of the account has spent nearly all of the window since.
    expect(budget.take('interactive').ok).toBe(true);
    budget.settle({ remaining: 50, resetS: 290 });

    const state = budget.state();
    expect(state.available).toBe(49);
    // Before: the reserve was 20 % of the 1199 first seen, so polls waited about 230 s with 49 requests left.
    expect(state.backgroundAvailable).toBeGreaterThanOrEqual(Math.floor(0.8 * 49));
    expect(state.backgroundWaitMs).toBe(0);
    expect(budget.take('background').ok).toBe(true);
  });

  it('lets polls go again soon after an interactive burst emptied the own bucket', () => {
    const { time, budget } = cloudflareBudget();
    expect(budget.take('interactive').ok).toBe(true);
    budget.settle({ remaining: 1199, resetS: 300 });
    time.advance(295_000);
    let taken = 0;
    while (budget.take('interactive').ok) taken++;
    expect(taken).toBeGreaterThan(1000);
    for (let i = 0; i < taken; i++) budget.settle({ remaining: 0, resetS: 5 });

    // The mirrored window has reset (and its margin passed): upstream allows 1200 again.
    time.advance(7_000);
    const state = budget.state();
    expect(state.resetInMs).toBeNull();
    // Before: polls needed 241 tokens in the bucket (a fixed 20 % of its capacity) and waited 53.75 s.
    expect(state.backgroundAvailable).toBeGreaterThan(0);
    expect(budget.take('background').ok).toBe(true);
  });

  it('never locks a client out when its share of the limit is below one request', () => {
    const time = manualClock();
    // 0.5 % of 100 is half a request.
    const budget = new RequestBudget(100, 10, time.now, 0.005);
    expect(budget.take('interactive', 'b').ok).toBe(true);
    let taken = 0;
    while (budget.take('interactive', 'a').ok) taken++;
    // A share is never smaller than a few requests (MIN_CLIENT_SHARE_REQUESTS).
    expect(taken).toBe(MIN_CLIENT_SHARE_REQUESTS);
    expect(budget.take('interactive', 'a')).toMatchObject({ ok: false, reason: 'client-share' });
    time.advance(10_000);
    expect(budget.take('interactive', 'b').ok).toBe(true);
    // Before: a's share never refilled to one request while b was active (retry in 200 001 ms, forever).
    expect(budget.take('interactive', 'a').ok).toBe(true);
  });

  it("keeps the mirrored window a second past the reset upstream names, against a rounded-down 't'", () => {
    const { time, budget } = cloudflareBudget();
    expect(budget.take('interactive').ok).toBe(true);
    budget.settle({ remaining: 10, resetS: 60 });
    expect(budget.state().available).toBe(9);
    time.advance(60_500);
    // Before: the window ended at exactly `t`, and a full bucket could go out in upstream's last second.
    expect(budget.state()).toMatchObject({ available: 9, resetInMs: 500 });
    time.advance(500);
    expect(budget.state()).toMatchObject({ available: 1200, resetInMs: null });
  });
});
