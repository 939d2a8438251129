import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/emulator/rate-limit.js';
import {
  parseRateLimitHeader,
  RequestBudget,
  RESERVE_SHARE,
  RESET_MARGIN_MS,
  SAFETY_MARGIN,
} from '../../src/upstream/budget.js';
import { parseRetryAfter } from '../../src/upstream/retry.js';
import type { Priority } from '../../src/upstream/types.js';
import { seededRandom as random } from '../helpers/random.js';

/**
 * The request budget against the emulator's limiter (the upstream the other tests run against), on a manual
 * clock: random bursts of interactive requests, greedy background work, other clients of the account spending
 * part of the window (which our answers' `Ratelimit` then reports), injected 429s with `Retry-After: 1`, answers
 * that never come, random latencies on the way out and back, and interactive requests from a few clients under a
 * random `CLIENT_BUDGET_SHARE` (some below one request of the limit). The seeds are fixed; `BUDGET_SEED=<n>`
 * replays one run.
 */

interface Sent {
  readonly priority: Priority;
  readonly arriveAt: number;
  readonly answerAt: number;
  /** Arrival time of the latest-counted request whose answer we had when this one was sent. */
  readonly knownArrival: number;
  readonly lost: boolean;
  answer?: { status: number; headers: Record<string, string> };
}

/** One window of the limiter, replicated by the test (fixed windows from the first request after the last one ended). */
interface LimiterWindow {
  readonly id: number;
  readonly start: number;
  used: number;
  /** Background requests counted in the second half of the window. */
  background: number;
  /** Requests counted whose answers were lost: the budget must assume upstream counted them. */
  lost: number;
  /** The most interactive requests the budget counted as recent (see `demand` in `run`) while this window lasted. */
  demand: number;
}

interface RunReport {
  readonly limit: number;
  readonly windowS: number;
  /** 429s the limiter gave although no other client had spent anything we could not yet know about. */
  readonly overshoots: string[];
  /** Windows that ended with requests left (beyond the reserve) in which background work sent nothing. */
  readonly starvedWindows: string[];
  /** Clients refused for their share longer than a window after they were last served (or first asked). */
  readonly lockedOut: string[];
  readonly sent: Record<Priority, number>;
}

const TICK_MS = 10;

function run(seed: number): RunReport {
  const rand = random(seed);
  const int = (min: number, max: number) => min + Math.floor(rand() * (max - min + 1));
  const limit = int(20, 200);
  const windowS = int(5, 20);
  const windowMs = windowS * 1000;
  let now = 0;
  const limiter = createRateLimiter({ limit, windowS });
  const clientShare = [1, 0.5, 0.2, 0.001][int(0, 3)] ?? 1;
  const budget = new RequestBudget(limit, windowS, () => now, clientShare);
  const clients = ['a', 'b', 'c'];
  /** When each client was last served, or first asked. */
  const servedAt = new Map<string, number>();
  const key = 'token:gateway';

  const windows: LimiterWindow[] = [];
  const windowAt = (at: number): LimiterWindow => {
    const last = windows.at(-1);
    if (last && at < last.start + windowMs) return last;
    const window = { id: windows.length, start: at, used: 0, background: 0, lost: 0, demand: 0 };
    windows.push(window);
    return window;
  };
  const spends: { at: number; window: number }[] = [];
  /** Interactive requests taken, counted down as RequestBudget counts them (a window's length as time constant). */
  let demand = 0;
  let demandAt = 0;
  const inFlight: Sent[] = [];
  let knownArrival = -1;
  const report: RunReport = {
    limit,
    windowS,
    overshoots: [],
    starvedWindows: [],
    lockedOut: [],
    sent: { interactive: 0, background: 0 },
  };

  const send = (priority: Priority) => {
    const client = priority === 'interactive' ? clients[int(0, clients.length - 1)] : undefined;
    const since = client === undefined ? now : (servedAt.get(client) ?? now);
    if (client !== undefined && !servedAt.has(client)) servedAt.set(client, now);
    const taken = budget.take(priority, client);
    if (!taken.ok) {
      // A client's share refills whole within a window: a longer refusal locks it out.
      if (taken.reason === 'client-share' && now - since > windowMs)
        report.lockedOut.push(`client ${client} refused at ${now} ms, last served at ${since} ms`);
      return false;
    }
    if (client !== undefined) servedAt.set(client, now);
    if (priority === 'interactive') {
      demand = demand * Math.exp((demandAt - now) / windowMs) + 1;
      demandAt = now;
      const window = windowAt(now);
      window.demand = Math.max(window.demand, demand);
    }
    const arriveAt = now + int(0, 100);
    // Now and then an answer is slow: requests pile up in flight before anything is known.
    const back = rand() < 0.1 ? int(400, 2000) : int(0, 150);
    inFlight.push({ priority, arriveAt, answerAt: arriveAt + back, knownArrival, lost: rand() < 0.01 });
    report.sent[priority]++;
    return true;
  };

  const end = 5 * windowMs;
  for (now = 0; now <= end; now += TICK_MS) {
    // Requests reach the limiter in the order they arrive.
    for (const request of inFlight
      .filter((r) => !r.answer && r.arriveAt <= now)
      .sort((a, b) => a.arriveAt - b.arriveAt)) {
      const window = windowAt(request.arriveAt);
      const verdict = limiter.take(key, request.arriveAt);
      const headers = { ...verdict.headers };
      let status = 200;
      if (!verdict.allowed) {
        status = 429;
        const excused = spends.some((s) => s.window === window.id && s.at >= request.knownArrival);
        if (!excused)
          report.overshoots.push(
            `${request.priority} request at ${request.arriveAt} ms, window ${window.id} (${window.used} used)`,
          );
      } else {
        window.used++;
        if (request.lost) window.lost++;
        if (request.priority === 'background' && request.arriveAt >= window.start + windowMs / 2) window.background++;
        if (rand() < 0.02) {
          // The emulator's injected 429: counted, then refused with Retry-After: 1 (src/emulator/server.ts).
          status = 429;
          headers['retry-after'] = '1';
        }
      }
      request.answer = { status, headers };
    }
    // Answers come back; a lost one ends without any.
    for (const request of inFlight.filter((r) => r.answer && r.answerAt <= now)) {
      inFlight.splice(inFlight.indexOf(request), 1);
      const answer = request.answer;
      if (request.lost || !answer) {
        budget.settle(null);
        continue;
      }
      const observation = parseRateLimitHeader(answer.headers.ratelimit);
      budget.settle(observation);
      knownArrival = Math.max(knownArrival, request.arriveAt);
      if (answer.status === 429) {
        const retryAfter = parseRetryAfter(answer.headers['retry-after'], now);
        budget.refused(retryAfter ?? (observation ? observation.resetS * 1000 : null));
      }
    }
    // Another client of the account spends part of the window.
    if (rand() < 0.002) {
      const window = windowAt(now);
      // Mostly a little, sometimes nearly all that is left.
      const count = rand() < 0.3 ? int(Math.ceil(limit / 2), limit) : int(1, Math.ceil(limit / 5));
      limiter.spend(key, count, now);
      window.used = Math.min(limit, window.used + count);
      spends.push({ at: now, window: window.id });
    }
    // A burst of interactive requests.
    if (rand() < 0.01) for (let i = int(1, Math.ceil(limit / 2)); i > 0; i--) send('interactive');
    // Background work takes whatever it is given.
    if (now % 50 === 0) send('background');
  }

  // Every window that ended (the last one may not have) with requests left served background work in its second
  // half: the interactive reserve shrinks to nothing by the reset, so background work gets a share of whatever is
  // left. What may be left unused: the margin, requests whose answers were lost, and the reserve still standing
  // at the reset, which the budget places up to two seconds late (Ratelimit's `t` is rounded up to whole seconds,
  // and RESET_MARGIN_MS is added to it): that share of a window of RESERVE_SHARE of what is left, or of the
  // interactive requests counted as recent, whichever is more.
  for (const window of windows.slice(0, -1)) {
    const left = limit - window.used;
    const reserveBase = Math.max(RESERVE_SHARE * limit, window.demand);
    const unusable = SAFETY_MARGIN + 2 + reserveBase * ((1000 + RESET_MARGIN_MS) / windowMs);
    if (left > unusable + window.lost && window.background === 0)
      report.starvedWindows.push(
        `window ${window.id} at ${window.start} ms ended with ${left} left and no background request`,
      );
  }
  return report;
}

describe('the request budget against the emulator limiter (property test)', () => {
  const runs = process.env.BUDGET_SEED ? 1 : 100;
  const base = process.env.BUDGET_SEED ? Number(process.env.BUDGET_SEED) : 1;

  it(`never overshoots a window, never starves background work, never locks a client out (${runs} seeded runs)`, () => {
    let interactive = 0;
    let background = 0;
    for (let i = 0; i < runs; i++) {
      const seed = base + i;
      const report = run(seed);
      const replay = `seed ${seed} (replay: BUDGET_SEED=${seed}), limit ${report.limit} per ${report.windowS} s`;
      expect(report.overshoots, `429s caused by our own overshoot, ${replay}`).toEqual([]);
      expect(report.starvedWindows, `background work starved, ${replay}`).toEqual([]);
      expect(report.lockedOut, `a client locked out of its share, ${replay}`).toEqual([]);
      interactive += report.sent.interactive;
      background += report.sent.background;
    }
    // The runs did exercise both priorities.
    expect(interactive).toBeGreaterThan(0);
    expect(background).toBeGreaterThan(0);
  });
});
