import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createConfig } from '../../src/config.js';
import { createEmulator, type Emulator } from '../../src/emulator/server.js';
import { createLogger } from '../../src/logger.js';
import { createRedisConnection, type RedisConnection } from '../../src/redis/connection.js';
import { createRedisKeys } from '../../src/redis/keys.js';
import { createReplicaRegistry } from '../../src/redis/registry.js';
import { createSharedBudgets } from '../../src/redis/shared-budgets.js';
import { createCredential } from '../../src/upstream/credential.js';
import { IDLE_LEASE_RETURN_MS, leaseSize } from '../../src/redis/shared-budget.js';
import { SAFETY_MARGIN } from '../../src/upstream/budget.js';
import { UpstreamRateLimitedError, UpstreamError } from '../../src/upstream/errors.js';
import type { Priority } from '../../src/upstream/types.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { startReplicas as start, stopReplicas, type Replica } from '../helpers/replicas.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

// Issue 14, first part: replicas with the same REDIS_URL and REDIS_KEY_PREFIX share one request budget per
// credential (src/redis/). Three apps in this process, one real redis-server, one real emulator whose rate limit
// equals the gateways' UPSTREAM_RATE_LIMIT.

const LIMIT = 60;
const WINDOW_S = 30;
const WORKFLOW = 'order-fulfillment';
const ACCOUNT = 'ab'.repeat(16);

let redis: RedisServer;
const connections: RedisConnection[] = [];
const emulators: Emulator[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});

// Each test's replicas stop with it: those of earlier tests would otherwise keep polling, and take every pub/sub
// connection drop a test makes as their own.
afterEach(stopReplicas);

afterAll(async () => {
  await stopReplicas();
  await Promise.all(connections.map((connection) => connection.close()));
  await Promise.all(emulators.map((emulator) => emulator.stop()));
  await redis?.dispose();
});

async function startEmulator(rateLimit = { limit: LIMIT, windowS: WINDOW_S }): Promise<Emulator> {
  const emulator = await createEmulator({ rateLimit });
  emulators.push(emulator);
  return emulator;
}

/** Starts `count` gateways in front of `emulator`, sharing Redis under `prefix` (or none without it). */
const startReplicas = (
  count: number,
  emulator: Emulator,
  options: { prefix?: string; token: string; rateWindowS?: number; fallbackReplicas?: number; redisUrl?: string },
) =>
  start(count, {
    upstream: {
      baseUrl: emulator.url,
      accountId: ACCOUNT,
      apiToken: options.token,
      rateLimit: LIMIT,
      rateWindowS: options.rateWindowS ?? WINDOW_S,
      maxRetries: 0,
    },
    ...(options.prefix === undefined
      ? {}
      : {
          redis: {
            url: options.redisUrl ?? redis.url,
            keyPrefix: options.prefix,
            ...(options.fallbackReplicas === undefined ? {} : { fallbackReplicas: options.fallbackReplicas }),
          },
        }),
  });

type Outcome = 'sent' | 'refused' | 'upstream-429';

/** One upstream read of an instance that does not exist (a 404 answer: never retried, never de-duplicated). */
async function call(replica: Replica, priority: Priority, id: string): Promise<Outcome> {
  try {
    await replica.app.upstream.default.getInstance(WORKFLOW, id, {}, { priority });
    return 'sent';
  } catch (error) {
    if (error instanceof UpstreamRateLimitedError) return error.source === 'budget' ? 'refused' : 'upstream-429';
    if (error instanceof UpstreamError && error.code === 'NOT_FOUND') return 'sent';
    throw error;
  }
}

/** `interactive` and `background` calls from each replica at once. */
async function burst(replicas: readonly Replica[], tag: string, interactive: number, background: number) {
  const calls = replicas.flatMap((replica, r) => [
    ...Array.from({ length: interactive }, (_, i) => call(replica, 'interactive', `${tag}-${r}-i${i}`)),
    ...Array.from({ length: background }, (_, i) => call(replica, 'background', `${tag}-${r}-b${i}`)),
  ]);
  return Promise.all(calls);
}

/** Keeps `workers` calls going from each replica (interactive and background in turn) until stopped. */
function keepLoading(replicas: readonly Replica[], tag: string, workers = 3) {
  let going = true;
  const outcomes: Outcome[] = [];
  const loops = replicas.flatMap((replica, r) =>
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; going; i++) {
        const outcome = await call(replica, i % 2 === 0 ? 'interactive' : 'background', `${tag}-${r}-${w}-${i}`);
        outcomes.push(outcome);
        // A client refused by the budget tries again a little later, not in a tight loop.
        if (outcome === 'refused') await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }),
  );
  return {
    async stop(): Promise<Outcome[]> {
      going = false;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

/**
 * How many of the emulator's rate-limit windows have begun (src/emulator/rate-limit.ts: fixed windows, each from the
 * first request after the last one ended), as near as its request log tells: it records a request when answered.
 */
/** When the emulator's current window began (as {@link windowsBegun} counts them). */
function currentWindowStart(emulator: Emulator, windowS: number): number {
  let start = -Infinity;
  for (const { at } of emulator.requests.entries) if (at >= start + windowS * 1000) start = at;
  return start;
}

function windowsBegun(emulator: Emulator, windowS: number): number {
  let count = 0;
  let end = -Infinity;
  for (const { at } of emulator.requests.entries) {
    if (at < end) continue;
    end = at + windowS * 1000;
    count += 1;
  }
  return count;
}

const tooMany = (emulator: Emulator) => emulator.requests.entries.filter((e) => e.status === 429).length;
const sentBy = (replica: Replica) => replica.app.upstream.stats.total;
const prefix = () => `t${randomBytes(4).toString('hex')}:`;
const token = () => `redis-test-token-${randomBytes(12).toString('hex')}`;

describe('a request budget shared through Redis', () => {
  it('keeps three replicas together within the limit: no 429, at most the limit per window', async () => {
    const emulator = await startEmulator();
    const replicas = await startReplicas(3, emulator, { prefix: prefix(), token: token() });
    const outcomes = await burst(replicas, 'a', 40, 20);

    expect(tooMany(emulator)).toBe(0);
    expect(outcomes.filter((o) => o === 'upstream-429')).toHaveLength(0);
    const sent = emulator.requests.count();
    expect(sent).toBeLessThanOrEqual(LIMIT);
    // The window is used, less the safety margin and the tokens other replicas hold leased (given back later).
    expect(sent).toBeGreaterThanOrEqual(LIMIT - SAFETY_MARGIN - 3 * leaseSize(LIMIT, 3));
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(sent);
    expect(replicas.reduce((sum, r) => sum + sentBy(r), 0)).toBe(sent);
    // What the poll loops read is the shared budget: what is left of upstream's window for every replica, whichever
    // replica spent it (a state that is read is refreshed from Redis within a second or so).
    const spent = (replica: Replica) => {
      const state = replica.app.upstream.budget(replica.app.upstream.default.credential.key);
      return state.resetInMs !== null && state.available <= LIMIT - sent - SAFETY_MARGIN;
    };
    await waitFor(() => replicas.every(spent), { message: 'every replica reads the spent budget', timeoutMs: 3000 });
  });

  it('is what keeps them there: three replicas without Redis get 429s (control)', async () => {
    const emulator = await startEmulator();
    const replicas = await startReplicas(3, emulator, { token: token() });
    await burst(replicas, 'control', 40, 20);
    expect(tooMany(emulator)).toBeGreaterThan(0);
    expect(emulator.requests.count()).toBeGreaterThan(LIMIT);
  });

  it("corrects every replica's budget from the Ratelimit answer one of them saw", async () => {
    const emulator = await startEmulator();
    const secret = token();
    // Other clients of the account have spent most of upstream's window.
    emulator.spendRateLimit(secret, LIMIT - 15);
    const [a, ...others] = await startReplicas(3, emulator, { prefix: prefix(), token: secret });
    expect(await call(a!, 'interactive', 'r-first')).toBe('sent');
    // a's answer said 14 left; it reaches Redis at once (no window was mirrored before it).
    const budgetKey = a!.app.scaleOut!.keys.budget(a!.app.upstream.default.credential.key);
    const client = redis.client();
    let window: string | null = null;
    const deadline = Date.now() + 2000;
    while (window === null && Date.now() < deadline) {
      window = await client.hget(budgetKey, 'win');
      if (window === null) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(window).toMatch(/^14:\d+$/);

    const outcomes = await burst(others, 'r', 20, 5);
    expect(tooMany(emulator)).toBe(0);
    expect(outcomes).not.toContain('upstream-429');
    // 15 were left for the gateways: at most that is sent, less the safety margin and the replicas' idle leases.
    const sent = emulator.requests.count();
    expect(sent).toBeLessThanOrEqual(15);
    expect(sent).toBeGreaterThanOrEqual(15 - SAFETY_MARGIN - 3 * leaseSize(LIMIT, 3));

    // Every answer is reported and every idle lease given back (IDLE_LEASE_RETURN_MS): no replica holds anything after.
    const holders = async () => Object.keys(await client.hgetall(budgetKey)).filter((field) => field.startsWith('o:'));
    let held = await holders();
    const idleBy = Date.now() + IDLE_LEASE_RETURN_MS + 2000;
    while (held.length > 0 && Date.now() < idleBy) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      held = await holders();
    }
    expect(held).toEqual([]);
  });

  it('blocks every replica when one gets a 429 with Retry-After: the others send nothing until it has passed', async () => {
    const emulator = await startEmulator();
    const [a, b, c] = (await startReplicas(3, emulator, { prefix: prefix(), token: token() })) as [
      Replica,
      Replica,
      Replica,
    ];
    // Each replica leases a token more than it spends: without the shared block, b and c could send at once.
    for (const [n, replica] of [a, b, c].entries())
      expect(await call(replica, 'interactive', `b-warm-${n}`)).toBe('sent');
    for (const replica of [b, c])
      expect(replica.app.upstream.budget(replica.app.upstream.default.credential.key).available).toBeGreaterThan(0);

    emulator.faults.set({ rateLimitRate: 1 });
    expect(await call(a, 'interactive', 'b-refused')).toBe('upstream-429');
    emulator.faults.clear();
    const refusedAt = emulator.requests.entries.find((e) => e.status === 429)!.at;
    const sentBefore = emulator.requests.count();

    const blocked = (replica: Replica) =>
      replica.app.upstream.budget(replica.app.upstream.default.credential.key).available === 0;
    // Published by the budget script at once: b and c need not wait for their next exchange with Redis.
    await waitFor(() => blocked(b) && blocked(c), { message: 'b and c blocked by the 429 a got', timeoutMs: 100 });
    const during = await Promise.all(
      [b, c].flatMap((replica, n) => [
        call(replica, 'interactive', `b-during-i${n}`),
        call(replica, 'background', `b-during-b${n}`),
      ]),
    );
    expect(during).toEqual(['refused', 'refused', 'refused', 'refused']);
    expect(emulator.requests.count()).toBe(sentBefore);

    // Once Retry-After (1 s) has passed, b sends again.
    let outcome: Outcome = 'refused';
    for (let i = 0; outcome === 'refused'; i++) {
      expect(Date.now() - refusedAt, 'b sends again within 2 s').toBeLessThan(2000);
      outcome = await call(b, 'interactive', `b-after-${i}`);
      if (outcome === 'refused') await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(outcome).toBe('sent');
    const later = emulator.requests.entries.filter((e) => e.at > refusedAt);
    expect(later.length).toBeGreaterThan(0);
    // Nothing reached upstream before Retry-After had passed (less a few ms of rounding between clocks).
    for (const entry of later) expect(entry.at - refusedAt).toBeGreaterThanOrEqual(990);
    expect(tooMany(emulator)).toBe(1);
  });

  it('keeps replicas within limit/replicas while Redis is down (one warning each), and rejoins when it is back', async () => {
    const emulator = await startEmulator();
    const keyPrefix = prefix();
    const replicas = await startReplicas(3, emulator, { prefix: keyPrefix, token: token() });
    for (const [n, replica] of replicas.entries())
      expect(await call(replica, 'interactive', `c-before-${n}`)).toBe('sent');
    await waitFor(() => replicas.every((r) => r.app.scaleOut?.registry.alive() === 3), {
      message: 'every replica saw three alive',
    });
    const readyBefore = await readyz(replicas[0]!);
    expect(readyBefore.status).toBe(200);

    await redis.stop();
    await waitFor(() => replicas.every((r) => r.app.scaleOut?.connection.status() === 'down'), {
      message: 'every replica noticed the outage',
    });
    const down = await readyz(replicas[0]!);
    expect(down.status).toBe(503);
    expect(down.body.checks.redis).toMatchObject({ ok: false });
    expect(down.body.checks.redis?.reason).toMatch(/^Redis is unreachable \(.+\)/);

    const sentBefore = replicas.map(sentBy);
    const outcomes = await burst(replicas, 'c-down', 40, 10);
    expect(tooMany(emulator)).toBe(0);
    expect(outcomes).not.toContain('upstream-429');
    for (const [n, replica] of replicas.entries()) {
      const sent = sentBy(replica) - sentBefore[n]!;
      expect(sent, `replica ${n} sent within its share`).toBeLessThanOrEqual(Math.floor(LIMIT / 3));
      expect(sent, `replica ${n} kept serving`).toBeGreaterThan(0);
    }
    // A second burst changes nothing: the shares are spent, nothing is lost to 429s.
    await burst(replicas, 'c-down-again', 10, 0);
    expect(tooMany(emulator)).toBe(0);
    for (const replica of replicas) {
      const warnings = replica.lines.filter((line) => line.level === 'warn');
      expect(warnings.map((line) => line.msg)).toEqual([expect.stringMatching(/^Redis is unreachable/)]);
    }

    await redis.restart();
    await waitFor(
      () => replicas.every((r) => r.app.scaleOut?.budgets.get(r.app.upstream.default.credential.key)?.shared === true),
      { message: 'every replica rejoined the shared budget', timeoutMs: 10_000 },
    );
    const client = redis.client();
    const members = await client.zrange(`${keyPrefix}replicas`, 0, -1);
    expect(members.sort()).toEqual(replicas.map((r) => r.app.scaleOut!.registry.id).sort());
    expect(
      await client.exists(replicas[0]!.app.scaleOut!.keys.budget(replicas[0]!.app.upstream.default.credential.key)),
    ).toBe(1);
    const up = await readyz(replicas[0]!);
    expect(up.status, up.text).toBe(200);
    expect(up.body.checks.redis).toEqual({ ok: true });
    for (const replica of replicas) {
      expect(replica.lines.filter((line) => line.level === 'warn')).toHaveLength(1);
      expect(replica.lines.filter((line) => /^Redis is reachable again/.test(line.msg))).toHaveLength(1);
    }

    // After the gap: what the replicas learnt during it (upstream's latest Ratelimit) keeps them within the window.
    const outcomesAfter = await burst(replicas, 'c-after', 20, 10);
    expect(outcomesAfter).not.toContain('upstream-429');
    expect(tooMany(emulator)).toBe(0);
    expect(emulator.requests.count()).toBeLessThanOrEqual(LIMIT);
  });

  it(
    'keeps the account within the limit while one replica alone is cut off from Redis, and after it rejoins',
    { timeout: 60_000 },
    async () => {
      // Short windows, so that the partition, cut in the middle of one, lasts over one of upstream's resets: at a
      // window's start every replica sends before any answer tells what the others spent, so the others must have left
      // the cut-off one its share. It ends before that share's reservation does (a window after c's last heartbeat):
      // past it, a partition may exceed the limit (src/redis/shared-budget.ts). Twenty callers per replica press at
      // the limit all along.
      const windowS = 8;
      const emulator = await startEmulator({ limit: LIMIT, windowS });
      const options = { prefix: prefix(), token: token(), rateWindowS: windowS };
      const proxy = await startTcpProxy(redis.port);
      const [a, b] = (await startReplicas(2, emulator, options)) as [Replica, Replica];
      const [c] = (await startReplicas(1, emulator, { ...options, redisUrl: `redis://127.0.0.1:${proxy.port}` })) as [
        Replica,
      ];
      const replicas = [a, b, c];
      await waitFor(() => replicas.every((r) => r.app.scaleOut?.registry.alive() === 3), {
        message: 'every replica saw three alive',
      });
      const load = keepLoading(replicas, 'p', 20);
      let outcomes: Outcome[] = [];
      let cutAt = Infinity;
      let restoredAt = Infinity;
      /** What upstream answered to replica `r` (its calls name instances `p-<r>-…`). */
      const entriesOf = (r: number) => emulator.requests.entries.filter((e) => e.path.includes(`/p-${r}-`));
      const sentSince = (at: number, r: number) => entriesOf(r).filter((e) => e.at > at).length;
      try {
        await waitFor(() => emulator.requests.count() > 0, { message: 'the load reached upstream' });
        const middle = currentWindowStart(emulator, windowS) + (windowS * 1000) / 2;
        await waitFor(() => Date.now() >= middle, { message: 'the middle of a window', timeoutMs: windowS * 1000 });
        // c's own connection is cut; Redis and the other replicas' connections are untouched.
        cutAt = Date.now();
        proxy.cut();
        await waitFor(() => c.app.scaleOut?.connection.status() === 'down', { message: 'c noticed the cut' });
        expect(a.app.scaleOut?.connection.status()).toBe('up');
        const windowsAtCut = windowsBegun(emulator, windowS);
        await waitFor(() => windowsBegun(emulator, windowS) >= windowsAtCut + 1, {
          message: 'an upstream window begun during the partition',
          timeoutMs: windowS * 1000,
        });
        const begun = currentWindowStart(emulator, windowS);
        // c, on its local share, may send the moment the window begins, before a and b (whose leases take a round
        // trip) send in it: the partition lasts until all three have.
        await waitFor(() => sentSince(begun, 2) > 0 && sentSince(begun, 0) + sentSince(begun, 1) > 0, {
          message: 'c, and a or b, sending in the new window',
          timeoutMs: 2_000,
        });
        restoredAt = Date.now();
        proxy.restore();
        await waitFor(() => c.app.scaleOut?.budgets.get(c.app.upstream.default.credential.key)?.shared === true, {
          message: 'c rejoined the shared budget',
          timeoutMs: 10_000,
        });
        // Once the window it spent in has passed, c leases from the shared budget again.
        await waitFor(() => sentSince(restoredAt, 2) > 0, {
          message: 'c sending again after it rejoined',
          timeoutMs: 2 * windowS * 1000,
        });
      } finally {
        outcomes = await load.stop();
      }

      // The emulator's limiter counts fixed windows of UPSTREAM_RATE_LIMIT: no 429, no window over the limit.
      expect(tooMany(emulator)).toBe(0);
      expect(outcomes).not.toContain('upstream-429');
      // While cut off, c served (tokens leased before the cut, then its local share), the new window included, while
      // the others kept its share; a and b served meanwhile.
      // `<=`: c's answer that ended the wait above may carry the very millisecond restoredAt was read in.
      const cutOff = (r: number) => entriesOf(r).filter((e) => e.at > cutAt && e.at <= restoredAt);
      expect(cutOff(2).length).toBeGreaterThan(0);
      expect(cutOff(0).length + cutOff(1).length).toBeGreaterThan(0);
      for (const [n, replica] of replicas.entries()) {
        const outages = replica.lines.filter((line) => /^Redis is unreachable/.test(line.msg));
        expect(outages, `replica ${n}'s outage warnings`).toHaveLength(replica === c ? 1 : 0);
      }
    },
  );

  it('keeps replicas started while Redis is down within the limit together: each assumes REDIS_FALLBACK_REPLICAS', async () => {
    const emulator = await startEmulator();
    await redis.stop();
    try {
      // None of them ever saw another: each divides by the default REDIS_FALLBACK_REPLICAS (3), not by a guess of 2.
      const replicas = await startReplicas(3, emulator, { prefix: prefix(), token: token() });
      for (const replica of replicas) expect(replica.config.redis.fallbackReplicas).toBe(3);
      const outcomes = await burst(replicas, 'f-down', 30, 0);
      expect(outcomes).not.toContain('upstream-429');
      expect(tooMany(emulator)).toBe(0);
      for (const [n, replica] of replicas.entries()) {
        expect(sentBy(replica), `replica ${n} sent its share`).toBe(Math.floor(LIMIT / 3));
      }
      expect(emulator.requests.count()).toBeLessThanOrEqual(LIMIT);

      // A deployment of up to 6 replicas says so: a replica started alone during the outage takes a sixth.
      const [sixth] = await startReplicas(1, emulator, { prefix: prefix(), token: token(), fallbackReplicas: 6 });
      await burst([sixth!], 'f-six', 30, 0);
      expect(sentBy(sixth!)).toBe(Math.floor(LIMIT / 6));
    } finally {
      await redis.restart();
    }
  });

  it('never writes a token, nor an account id in clear, to Redis (keys, values, published messages)', async () => {
    const emulator = await startEmulator();
    const secret = token();
    const keyPrefix = prefix();
    const listener = redis.client();
    const messages: string[] = [];
    listener.on('pmessage', (_pattern: string, channel: string, message: string) => messages.push(channel, message));
    await listener.psubscribe('*');
    const replicas = await startReplicas(3, emulator, { prefix: keyPrefix, token: secret });
    await burst(replicas, 'd', 5, 5);
    emulator.faults.set({ rateLimitRate: 1 });
    expect(await call(replicas[0]!, 'interactive', 'd-refused')).toBe('upstream-429');
    emulator.faults.clear();
    await waitFor(() => messages.length > 0, { message: 'the block was published' });

    const client = redis.client();
    const keys = await client.keys(`${keyPrefix}*`);
    expect(keys.length).toBeGreaterThanOrEqual(3);
    const dump: string[] = [...keys, ...messages];
    for (const key of keys) {
      const type = await client.type(key);
      if (type === 'hash') dump.push(...Object.entries(await client.hgetall(key)).flat());
      else if (type === 'zset') dump.push(...(await client.zrange(key, 0, -1, 'WITHSCORES')));
      else if (type === 'string') dump.push((await client.get(key)) ?? '');
      else throw new Error(`unexpected key type ${type} of ${key}`);
    }
    const text = dump.join('\n');
    expect(text).toContain(keyPrefix);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(ACCOUNT);
    // Nor the hash of the token the credential key carries (src/upstream/credential.ts).
    expect(text).not.toContain(replicas[0]!.app.upstream.default.credential.key.split(':')[1]!);
  });
});

interface Readiness {
  readonly status: number;
  readonly text: string;
  readonly body: { status: string; checks: Record<string, { ok: boolean; reason?: string }> };
}

async function readyz(replica: Replica): Promise<Readiness> {
  const response = await fetch(new URL('/readyz', replica.url));
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Readiness['body'] };
}

/** Resolves once `condition` resolves true, checking every few ms; rejects after `timeoutMs`. */
async function waitForAsync(condition: () => Promise<boolean>, message: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("one replica's shared budgets", () => {
  it('close the least recently used idle one when too many are kept: never the server credential, never one in use', async () => {
    const config = createConfig({
      upstream: { accountId: ACCOUNT, apiToken: token(), rateLimit: LIMIT, rateWindowS: WINDOW_S },
    });
    const logger = createLogger('error', []);
    const connection = await createRedisConnection({ url: redis.url, logger, consequence: () => '' });
    connections.push(connection);
    expect(await connection.connect(3000)).toBe(true);
    const keys = createRedisKeys(prefix());
    const registry = createReplicaRegistry(connection, keys, 3);
    expect(await registry.beat()).toBe(true);
    let clock = 1_000_000;
    const budgets = createSharedBudgets({
      connection,
      keys,
      registry,
      upstream: config.upstream,
      now: () => clock,
      maxBudgets: 3,
    });
    await budgets.start();
    const client = (name: string) => createCredential(ACCOUNT, `${token()}-${name}`, 'client');
    const build = (credential: ReturnType<typeof createCredential>) => {
      budgets.factory(credential);
      return budgets.get(credential.key)!;
    };
    const held = async (key: string) => Number((await redis.client().hget(keys.budget(key), `o:${registry.id}`)) ?? 0);

    // The server's credential, built first and never used: the oldest by both measures.
    const server = build(createCredential(config.upstream.accountId, config.upstream.apiToken));
    const idle = build(client('idle'));
    const inUse = build(client('in-use'));
    clock += 10;
    expect(await idle.take('interactive')).toEqual({ ok: true });
    idle.settle(null);
    clock += 10;
    // Taken, its request not answered yet: older than nothing, but in use.
    expect(await inUse.take('interactive')).toEqual({ ok: true });
    clock += 10;
    const fresh = build(client('fresh'));

    expect(budgets.get(idle.credentialKey), 'the least recently used idle budget is closed').toBeUndefined();
    expect(budgets.get(server.credentialKey)).toBe(server);
    expect(budgets.get(inUse.credentialKey)).toBe(inUse);
    expect(budgets.get(fresh.credentialKey)).toBe(fresh);
    await waitForAsync(async () => (await held(idle.credentialKey)) === 0, 'the closed budget gave its lease back');
    expect(await held(inUse.credentialKey), 'the budget in use still holds its lease').toBeGreaterThanOrEqual(1);

    // createUpstream still holds the closed one: used again, it serves and is maintained again (its lease returns).
    clock += 10;
    expect(await idle.take('interactive')).toEqual({ ok: true });
    expect(budgets.get(idle.credentialKey)).toBe(idle);
    expect(budgets.get(server.credentialKey)).toBe(server);
    expect(budgets.get(inUse.credentialKey)).toBe(inUse);
    expect(await held(idle.credentialKey)).toBeGreaterThanOrEqual(1);
    idle.settle(null);
    clock += IDLE_LEASE_RETURN_MS;
    await waitForAsync(async () => (await held(idle.credentialKey)) === 0, 'the reopened budget returned its lease');

    inUse.settle(null);
    await budgets.stop();
    await registry.stop();
  });
});
