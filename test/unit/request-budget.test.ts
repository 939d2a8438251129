import { describe, expect, it } from 'vitest';
import { MIN_CLIENT_SHARE_REQUESTS, RequestBudget } from '../../src/upstream/budget.js';
import { manualClock } from '../helpers/manual-clock.js';

/** Cloudflare's limit (1200 per 5 minutes) on a manual clock. */
function cloudflareBudget(clientShare = 1) {
  const time = manualClock();
  return { time, budget: new RequestBudget(1200, 300, time.now, clientShare) };
}

describe('the request budget (RequestBudget, manual clock)', () => {
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
