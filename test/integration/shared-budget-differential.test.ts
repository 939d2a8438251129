import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/emulator/rate-limit.js';
import { createLogger } from '../../src/logger.js';
import { createRedisConnection, type RedisConnection } from '../../src/redis/connection.js';
import { exchangeBudget, NOTHING_TO_REPORT, type BudgetExchange } from '../../src/redis/budget-script.js';
import { createRedisKeys } from '../../src/redis/keys.js';
import { createReplicaRegistry } from '../../src/redis/registry.js';
import { leaseSize, SharedBudget } from '../../src/redis/shared-budget.js';
import { parseRateLimitHeader, RequestBudget, type TakeResult } from '../../src/upstream/budget.js';
import type { Priority } from '../../src/upstream/types.js';
import { seededRandom } from '../helpers/random.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

/**
 * The budget script (src/redis/budget-script.ts, through src/redis/shared-budget.ts with one replica, against a real
 * redis-server) and the in-process budget (src/upstream/budget.ts) driven by the same seeded sequences: takes of
 * both priorities, answers whose `Ratelimit` comes from the emulator's limiter (an upstream window of the limit,
 * other clients of the account spending part of it), answers that never come, and a 429 with `Retry-After`.
 * Both read the same clock (Redis runs on this machine); the windows are long, so that what refills during a run
 * stays below one request, and limits stay below 20, so that the shared budget leases no token beyond the take
 * that asks (`leaseSize`): each take is one exchange with the script, decided on the same state as in-process.
 *
 * Where they differ by design: once the script has refused a priority, the shared budget refuses it locally until
 * the wait the script named has passed (src/redis/shared-budget.ts, `deniedUntil`: a flood of refused requests is
 * not a flood of round trips), while the in-process budget grants again as soon as an answer frees a request in
 * flight. A run ends at the first such refusal; the bounds both must keep are checked on every run. The seeds are
 * fixed; `BUDGET_SEED=<n>` replays one run.
 */

const RUNS = process.env.BUDGET_SEED ? 1 : 25;
const BASE_SEED = process.env.BUDGET_SEED ? Number(process.env.BUDGET_SEED) : 1;
const STEPS = 60;

let redis: RedisServer;
let connection: RedisConnection;

beforeAll(async () => {
  redis = await startRedisServer();
  connection = await createRedisConnection({
    url: redis.url,
    logger: createLogger('silent', []),
    consequence: () => '',
  });
  expect(await connection.connect(3000)).toBe(true);
});

afterAll(async () => {
  await connection?.close();
  await redis?.dispose();
});

interface RunReport {
  readonly capacity: number;
  /** Steps at which both decided a take from their own state. */
  readonly compared: number;
  /** Decisions that differed although both decided from their state. */
  readonly mismatches: string[];
  /** Requests the limiter refused (more than the limit went into its window) though every spend was known. */
  readonly overLimit: number;
  /** Background requests granted by each budget: the interactive reserve keeps at least the last one. */
  readonly background: { readonly inProcess: number; readonly shared: number };
  /** How the run ended: after all steps, at a divergence by design, or after a 429. */
  readonly end: 'steps' | 'by-design' | 'blocked';
}

async function run(seed: number): Promise<RunReport> {
  const rand = seededRandom(seed);
  const int = (min: number, max: number) => min + Math.floor(rand() * (max - min + 1));
  const capacity = int(5, 19);
  const windowS = int(300, 600);
  expect(leaseSize(capacity, 1)).toBe(0);
  const keys = createRedisKeys(`d${randomBytes(4).toString('hex')}:`);
  const registry = createReplicaRegistry(connection, keys, 1);
  expect(await registry.beat()).toBe(true);
  const limits = { capacity, windowMs: windowS * 1000 };
  const shared = new SharedBudget('differential', {
    connection,
    keys,
    registry,
    limits,
    clientShare: 1,
    now: Date.now,
  });
  const inProcess = new RequestBudget(capacity, windowS);
  const limiter = createRateLimiter({ limit: capacity, windowS });
  const account = 'account';

  const mismatches: string[] = [];
  let compared = 0;
  let overLimit = 0;
  const background = { inProcess: 0, shared: 0 };
  /** Requests in flight (both budgets sent the same ones so far): their answer, and the spend it has seen. */
  const inFlight: { answer: { remaining: number; resetS: number } | null; spends: number }[] = [];
  /** Other clients' spends so far, and how many of them an answer the budgets have read reflects. */
  let spends = 0;
  let spendsKnown = 0;
  const settleNext = () => {
    const { answer, spends: seen } = inFlight.shift()!;
    inProcess.settle(answer);
    shared.settle(answer);
    if (answer) spendsKnown = Math.max(spendsKnown, seen);
  };
  let end: RunReport['end'] = 'steps';

  const take = async (priority: Priority): Promise<'same' | 'by-design'> => {
    const local = inProcess.take(priority);
    const pending = shared.take(priority);
    const asked = pending instanceof Promise;
    const remote: TakeResult = await pending;
    if (local.ok !== remote.ok) {
      if (!asked && !remote.ok && remote.reason === 'budget' && local.ok) return 'by-design';
      mismatches.push(`seed ${seed}: ${priority} take: in-process ${local.ok}, shared ${remote.ok} (asked ${asked})`);
    }
    if (asked) compared += 1;
    if (!local.ok || !remote.ok) return 'same';
    if (priority === 'background') {
      background.inProcess += 1;
      background.shared += 1;
    }
    const verdict = limiter.take(account, Date.now());
    // Unless another client spent what no answer has told the budgets of yet.
    if (!verdict.allowed && spendsKnown === spends) overLimit += 1;
    inFlight.push({ answer: rand() < 0.1 ? null : parseRateLimitHeader(verdict.headers.ratelimit), spends });
    return 'same';
  };

  for (let step = 0; step < STEPS && end === 'steps'; step++) {
    const roll = rand();
    if (roll < 0.35) {
      if ((await take('interactive')) === 'by-design') end = 'by-design';
    } else if (roll < 0.6) {
      if ((await take('background')) === 'by-design') end = 'by-design';
    } else if (roll < 0.9) {
      // Answers arrive: both settle the same ones, in the same order.
      for (let n = int(1, 3); n > 0 && inFlight.length > 0; n--) settleNext();
    } else if (roll < 0.96) {
      // Another client of the account spends part of upstream's window.
      limiter.spend(account, int(1, Math.ceil(capacity / 3)), Date.now());
      spends += 1;
    } else {
      // Upstream refuses one with Retry-After: both block, so the next takes of either priority are refused.
      const retryAfterMs = int(5, 30) * 1000;
      inProcess.refused(retryAfterMs);
      shared.refused(retryAfterMs);
      for (const priority of ['interactive', 'background'] as const) {
        const local = inProcess.take(priority);
        const remote = await shared.take(priority);
        if (local.ok || remote.ok) mismatches.push(`seed ${seed}: ${priority} granted while blocked`);
      }
      end = 'blocked';
    }
  }
  while (inFlight.length > 0) settleNext();
  await shared.close();
  await registry.stop();
  return { capacity, compared, mismatches, overLimit, background, end };
}

describe('the shared budget script and the in-process budget (differential property test)', () => {
  it(`grant the same takes on the same sequences, and both keep the limit and the interactive reserve (${RUNS} seeded runs)`, async () => {
    let compared = 0;
    const ends = new Set<RunReport['end']>();
    for (let i = 0; i < RUNS; i++) {
      const seed = BASE_SEED + i;
      const report = await run(seed);
      const replay = `seed ${seed} (replay: BUDGET_SEED=${seed}), limit ${report.capacity}`;
      expect(report.mismatches, `decisions differ, ${replay}`).toEqual([]);
      expect(report.overLimit, `more than the limit went into upstream's window, ${replay}`).toBe(0);
      // Hardly anything refills during a run: background work never takes the last request of the limit.
      expect(report.background.inProcess, `in-process reserve, ${replay}`).toBeLessThanOrEqual(report.capacity - 1);
      expect(report.background.shared, `shared reserve, ${replay}`).toBeLessThanOrEqual(report.capacity - 1);
      compared += report.compared;
      ends.add(report.end);
    }
    // The runs did compare decisions, and reached blocks as well as the end of their steps.
    expect(compared).toBeGreaterThan(RUNS * 5);
    if (!process.env.BUDGET_SEED) expect([...ends].sort()).toEqual(expect.arrayContaining(['blocked', 'steps']));
  });

  it('counts the interactive requests behind the reserve down with time, as the in-process budget does', async () => {
    // The sequences above run within seconds of windows of 5 to 10 minutes: the decay needs a test of its own.
    const keys = createRedisKeys(`d${randomBytes(4).toString('hex')}:`);
    const limits = { capacity: 60, windowMs: 60_000 };
    const exchange = (credential: string, change: Partial<BudgetExchange>) =>
      exchangeBudget(connection, keys, 'replica-a', credential, limits, { ...NOTHING_TO_REPORT, ...change }, 1);
    const window = { observations: [{ remaining: 50, resetMs: 50_000 }] };
    // 40 interactive requests just now: the reserve follows them (about 34 of the 49 left, 50 s before the reset).
    const busy = await exchange('busy', { ...window, interactiveTaken: 40 });
    const idle = await exchange('idle', window);
    expect(busy.backgroundAvailable).toBeLessThan(idle.backgroundAvailable - 10);
    // Three windows later by the budget's own clock (its last refill moved back): 40 counts e^-3 × 40, about 2, and
    // the reserve is 20 % of what is left again, as for the credential that took none.
    const key = keys.budget('busy');
    await connection.client.hset(key, 'ts', Number(await connection.client.hget(key, 'ts')) - 3 * limits.windowMs);
    const aged = await exchange('busy', {});
    expect(aged.backgroundAvailable).toBeGreaterThanOrEqual(idle.backgroundAvailable - 1);
  });
});
