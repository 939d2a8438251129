/**
 * One credential's request budget shared by every replica through Redis (src/redis/budget-script.ts).
 *
 * A replica leases tokens in small batches and spends them locally, so most takes answer synchronously without a
 * round trip; only a take that finds no leased token waits for one exchange with Redis (all takes waiting in the
 * same turn of the event loop share it). Answers are reported in batches (on the next exchange, or within
 * {@link MAINTAIN_MS}). Until reported, a leased token counts as in flight for every replica's mirrored window.
 *
 * Bounds. Over all replicas, no more goes out per upstream window than the in-process budget would let one process
 * send: every token is leased by the script under the in-process rules, and counts as in flight until its answer
 * is reported. What leases add is idle tokens: each replica holds at most {@link leaseSize} unspent tokens
 * (5 % of the limit over all replicas, at most {@link MAX_LEASE} each), given back {@link IDLE_LEASE_RETURN_MS} after its
 * last lease (or lost with a replica that dies, until the bucket refills).
 *
 * While Redis is unreachable, the replica serves from a local {@link RequestBudget} of the limit divided by the
 * replicas it last saw alive (never fewer than `REDIS_FALLBACK_REPLICAS`), started from its share of the last shared state it saw, and reading each
 * `Ratelimit` answer as its share of what is left. Redis may be unreachable from this replica only (a partition)
 * while the others keep sharing it: they reserve this replica's share once it has missed heartbeats
 * (src/redis/budget-script.ts) until a window after its last heartbeat, so the local share is spent from then on
 * (`ReplicaRegistry.reservedShare`); before, only tokens leased before the outage go out (Redis counts them as held).
 * A replica cut off alone for longer than that window cannot be told from one that crashed: the others then use its
 * share again while it keeps serving from it, so such a long partition can exceed the limit by one share per window
 * (the README says so). When Redis is back it
 * rejoins: it tells Redis what it holds now (every request in flight, leased or local: their answers are reported
 * like leased ones), the latest `Ratelimit` it saw and its share's remaining tokens (Redis keeps the lower of both),
 * and only then leases again.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  DEFAULT_429_WAIT_MS,
  MAX_MIRRORED_WINDOWS,
  RESERVE_SHARE,
  RequestBudget,
  sameWindowToleranceMs,
  type Budget,
  type BudgetState,
  type RateLimitObservation,
  type TakeResult,
} from '../upstream/budget.js';
import { ClientShares, type ClientUsage } from '../upstream/client-shares.js';
import type { Priority } from '../upstream/types.js';
import {
  exchangeBudget,
  NOTHING_TO_REPORT,
  type BudgetExchange,
  type BudgetLimits,
  type SharedBudgetSnapshot,
} from './budget-script.js';
import type { RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import type { ReplicaRegistry } from './registry.js';

/** Longest a query waits for its replica's local share to refill while Redis is unreachable. */
const FALLBACK_WAIT_MS = 1000;

/** Share of the limit all replicas' unspent leases may hold together. */
export const LEASE_SHARE = 0.05;
/** Most tokens one lease adds beyond the takes waiting for it. */
export const MAX_LEASE = 25;
/** Leased tokens still unspent this long after the last lease go back to the shared bucket. */
export const IDLE_LEASE_RETURN_MS = 2000;
/** How often answers are reported, idle leases returned and a read state refreshed. */
export const MAINTAIN_MS = 250;
/** A state the poll loops read is refreshed from Redis when older than this. */
const SNAPSHOT_MAX_AGE_MS = 1000;

const TAKEN: TakeResult = Object.freeze({ ok: true });

interface Waiter {
  readonly priority: Priority;
  readonly client: string | undefined;
  readonly usage: ClientUsage | undefined;
  readonly resolve: (result: TakeResult) => void;
  asked: boolean;
}

/** Upstream's report of one window, as seen by this replica: `remaining` until `resetAt` (local clock). */
interface Observed {
  remaining: number;
  resetAt: number;
}

export interface SharedBudgetContext {
  readonly connection: RedisConnection;
  readonly keys: RedisKeys;
  readonly registry: ReplicaRegistry;
  readonly limits: BudgetLimits;
  readonly clientShare: number;
  readonly now: () => number;
  /** A closed budget is taken from again (its credential is still in use): it is maintained again from now on. */
  readonly reopened?: (budget: SharedBudget) => void;
}

/** Tokens a lease adds beyond the takes waiting: this replica's part of {@link LEASE_SHARE} of the limit. */
export function leaseSize(capacity: number, replicas: number): number {
  return Math.min(MAX_LEASE, Math.floor((capacity * LEASE_SHARE) / Math.max(1, replicas)));
}

export class SharedBudget implements Budget {
  /** Whether takes lease from Redis; false while it is unreachable (then {@link fallback} serves them). */
  private joined: boolean;
  /** Bumped on every fall back, so that an exchange begun before it is not applied after it. */
  private epoch = 0;
  /**
   * `probing`: the local share has not sent yet since the others began to reserve it; `probe`: settles with the answer
   * to its first request, which the requests taken meanwhile wait for (see {@link takeLocally}).
   */
  private fallback:
    | {
        readonly budget: RequestBudget;
        readonly replicas: number;
        probing: boolean;
        probe?: { readonly answered: Promise<void>; readonly resolve: () => void };
      }
    | undefined;
  private readonly shares: ClientShares;
  private poolInteractive = 0;
  private poolBackground = 0;
  /** Interactive requests taken since the last report (src/redis/budget-script.ts: the reserve follows them). */
  private interactiveTaken = 0;
  private leasedAt = 0;
  /** Taken from leased tokens, not settled yet. */
  private sharedInFlight = 0;
  /** Taken from the fallback, not settled yet: their answers settle the fallback. */
  private fallbackInFlight = 0;
  private settled = 0;
  private unanswered = 0;
  /** Of those, how many came before the first of {@link observations} (see src/redis/budget-script.ts). */
  private unansweredFirst = 0;
  private observations: Observed[] = [];
  private blockFor: number | null = null;
  /** An answer to report at once: Redis mirrors no window yet (see {@link settle}). */
  private reportNow = false;
  private blockedUntil = 0;
  private snapshot: { readonly at: number; readonly value: SharedBudgetSnapshot } | undefined;
  private waiters: Waiter[] = [];
  private pumping = false;
  private scheduled = false;
  private rejoining: Promise<boolean> | undefined;
  private stateReadAt = 0;
  /** When a take last came: a state is kept fresh only for credentials in use. */
  private usedAt = -Infinity;
  /**
   * Until when Redis said no more of each priority could be leased: takes are refused locally until then, so that
   * a flood of refused requests is not a flood of round trips (tokens given back meanwhile wait for it to pass).
   */
  private readonly deniedUntil: Record<Priority, number> = { interactive: 0, background: 0 };
  /** The latest `Ratelimit` answer, unscaled: what this replica tells Redis when it rejoins. */
  private latest: Observed | undefined;
  private closed = false;

  constructor(
    readonly credentialKey: string,
    private readonly context: SharedBudgetContext,
  ) {
    const { capacity, windowMs } = context.limits;
    this.shares = new ClientShares(capacity, windowMs, context.clientShare);
    this.joined = context.connection.status() === 'up';
    if (!this.joined) this.fallBack(context.registry.fallbackReplicas());
  }

  /** Whether this budget leases from Redis now (false: it serves from its local share). */
  get shared(): boolean {
    return this.joined;
  }

  /** When a take last came (the context's clock); -Infinity before the first. */
  get lastUsedAt(): number {
    return this.usedAt;
  }

  /** Whether a take waits, or a request taken from this budget has not been settled yet: then it must not close. */
  get busy(): boolean {
    return this.waiters.length > 0 || this.sharedInFlight > 0 || this.fallbackInFlight > 0;
  }

  take(priority: Priority, client?: string): TakeResult | Promise<TakeResult> {
    // Closed (or closing) while its credential was still held somewhere: used again, it is kept up again.
    if (this.closedOrClosing()) this.reopen();
    if (!this.joined) {
      // Rejoining has told Redis what is in flight: a request taken meanwhile waits for it (one round trip).
      if (this.rejoining) return this.rejoining.then(() => this.take(priority, client));
      return this.takeLocally(priority, client);
    }
    const now = this.context.now();
    if (now < this.blockedUntil) return refusal(this.blockedUntil - now);
    let usage: ClientUsage | undefined;
    if (priority === 'interactive' && client !== undefined) {
      usage = this.shares.usage(client, now);
      const wait = usage ? this.shares.waitMs(usage, client, now) : 0;
      if (wait > 0) return { ok: false, retryAfterMs: wait, reason: 'client-share' };
    }
    this.usedAt = now;
    if (this.consume(priority)) {
      if (usage) this.shares.charge(usage);
      return TAKEN;
    }
    if (now < this.deniedUntil[priority]) return refusal(this.deniedUntil[priority] - now);
    return new Promise<TakeResult>((resolve) => {
      this.waiters.push({ priority, client, usage, resolve, asked: false });
      this.schedule();
    });
  }

  settle(observation: RateLimitObservation | null): void {
    const now = this.context.now();
    if (observation) this.latest = { remaining: observation.remaining, resetAt: now + observation.resetS * 1000 };
    if (this.fallbackInFlight > 0) {
      this.fallbackInFlight -= 1;
      const fallback = this.fallback;
      fallback?.budget.settle(observation && scaled(observation, fallback.replicas));
      fallback?.probe?.resolve();
      if (fallback) fallback.probe = undefined;
      if (this.joined && this.fallbackInFlight === 0) this.fallback = undefined;
    } else {
      this.sharedInFlight = Math.max(0, this.sharedInFlight - 1);
      // Leased before an outage and answered during it: what upstream said is left binds the local share too.
      if (!this.joined && observation) this.fallback?.budget.settle(scaled(observation, this.fallback.replicas));
    }
    // Redis counts every request in flight once this replica has told it (rejoining) what it holds, until reported
    // settled; before that, rejoining tells it what is still in flight instead.
    if (!this.joined && this.rejoining === undefined) return;
    this.settled += 1;
    if (observation) {
      this.observe(observation.remaining, now + observation.resetS * 1000);
      // While no window is mirrored, every replica leases blind from the bucket: the first answer of a window
      // (upstream may report far fewer left, spent by other clients of the account) is reported at once.
      if (!this.snapshot || this.snapshot.value.resetInMs === null) {
        this.reportNow = true;
        this.schedule();
      }
    } else {
      this.unanswered += 1;
      if (this.observations.length === 0) this.unansweredFirst += 1;
    }
  }

  refused(retryAfterMs: number | null): void {
    const wait = retryAfterMs ?? DEFAULT_429_WAIT_MS;
    this.blockedUntil = Math.max(this.blockedUntil, this.context.now() + wait);
    this.fallback?.budget.refused(wait);
    if (!this.joined) return;
    this.blockFor = Math.max(this.blockFor ?? 0, wait);
    this.schedule();
  }

  /** Another replica got a 429: nothing goes out for `ms` (published by the script; src/redis/shared-budgets.ts). */
  blockedElsewhere(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.context.now() + ms);
  }

  interactiveWaitMs(): number {
    if (!this.joined && this.fallback) return this.fallback.budget.interactiveWaitMs();
    const now = this.context.now();
    if (now < this.blockedUntil) return Math.ceil(this.blockedUntil - now);
    if (this.poolInteractive + this.poolBackground >= 1 || !this.snapshot) return 0;
    const { at, value } = this.snapshot;
    return value.available >= 1 ? 0 : Math.max(1, value.interactiveWaitMs - (now - at));
  }

  state(): BudgetState {
    const now = this.context.now();
    this.stateReadAt = now;
    if (!this.joined && this.fallback) return this.fallback.budget.state();
    const { capacity, windowMs } = this.context.limits;
    const blockedMs = Math.max(0, this.blockedUntil - now);
    const age = this.snapshot ? now - this.snapshot.at : 0;
    const shared = this.snapshot?.value;
    const available = blockedMs > 0 ? 0 : (shared?.available ?? capacity) + this.poolInteractive + this.poolBackground;
    const backgroundAvailable =
      blockedMs > 0
        ? 0
        : (shared?.backgroundAvailable ?? Math.floor((1 - RESERVE_SHARE) * capacity)) + this.poolBackground;
    const rate = shared?.backgroundRatePerSecond ?? ((1 - RESERVE_SHARE) * capacity * 1000) / windowMs;
    const resetInMs = shared?.resetInMs ?? null;
    return {
      capacity,
      available,
      backgroundAvailable,
      // The replicas' poll loops share what background work may use.
      backgroundRatePerSecond: rate / this.context.registry.alive(),
      backgroundWaitMs: backgroundAvailable > 0 ? 0 : Math.max(1, blockedMs, (shared?.backgroundWaitMs ?? 0) - age),
      resetInMs: resetInMs === null ? null : Math.max(0, resetInMs - age),
    };
  }

  /**
   * Redis cannot be reached: from now on takes are served by a local budget of the limit divided by `replicas`,
   * started from that share of the last shared state seen, once the other replicas reserve that share. Leased tokens
   * still unspent go first (Redis counts them as held until this replica rejoins, or is gone from the registry).
   */
  fallBack(replicas: number): void {
    if (!this.joined && this.fallback) return;
    this.joined = false;
    this.epoch += 1;
    // The local share follows its own interactive requests until Redis is back; Redis's sum decays meanwhile.
    this.interactiveTaken = 0;
    const { capacity, windowMs } = this.context.limits;
    const now = this.context.now();
    const budget = new RequestBudget(
      Math.max(1, Math.floor(capacity / replicas)),
      windowMs / 1000,
      this.context.now,
      this.context.clientShare,
    );
    const last = this.snapshot;
    const age = last ? now - last.at : 0;
    const resetInMs = last?.value.resetInMs === null || !last ? 0 : last.value.resetInMs - age;
    budget.restrict({
      tokens: last ? last.value.tokens / replicas : Infinity,
      window:
        last && last.value.mirrorLeft !== null && resetInMs > 0
          ? { remaining: Math.floor(last.value.mirrorLeft / replicas), resetS: resetInMs / 1000 }
          : null,
      blockedForMs: Math.max(this.blockedUntil - now, last ? last.value.blockedForMs - age : 0),
    });
    // Upstream's latest answer may be fresher than Redis's state: the lower of both binds.
    const latest = this.latest && this.latest.resetAt > now ? this.latest : undefined;
    if (latest) {
      const window = { remaining: Math.floor(latest.remaining / replicas), resetS: (latest.resetAt - now) / 1000 };
      budget.restrict({ tokens: Infinity, window, blockedForMs: 0 });
    }
    // Listed in the registry, this replica may be cut off while the others keep sharing Redis (see takeLocally).
    this.fallback = { budget, replicas, probing: this.context.registry.reservedShare(windowMs) !== null };
    this.settled = 0;
    this.unanswered = 0;
    this.unansweredFirst = 0;
    this.observations = [];
    this.blockFor = null;
    this.reportNow = false;
    const waiting = this.waiters;
    this.waiters = [];
    for (const waiter of waiting)
      void Promise.resolve(this.takeLocally(waiter.priority, waiter.client)).then(waiter.resolve);
  }

  /**
   * Redis is reachable again: tells it what this replica holds now and what it learnt meanwhile (its latest
   * `Ratelimit` answer, its block, and its share's tokens times the replicas: Redis keeps the lowest), then leases
   * again. Nothing else from the outage is trusted. Resolves false (never rejects) when Redis failed again.
   */
  rejoin(): Promise<boolean> {
    if (this.joined) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    this.rejoining ??= this.join().finally(() => {
      this.rejoining = undefined;
    });
    return this.rejoining;
  }

  private async join(): Promise<boolean> {
    const now = this.context.now();
    const fallback = this.fallback;
    const latest = this.latest && this.latest.resetAt > now ? this.latest : undefined;
    try {
      const value = await this.run({
        ...NOTHING_TO_REPORT,
        observations: latest ? [{ remaining: latest.remaining, resetMs: latest.resetAt - now }] : [],
        blockForMs: this.blockedUntil > now ? this.blockedUntil - now : null,
        tokensCeil: fallback ? fallback.budget.state().available * fallback.replicas : null,
        holds: this.sharedInFlight + this.fallbackInFlight,
      });
      this.snapshot = { at: this.context.now(), value };
      // What this replica held is replaced by what it has in flight: tokens leased before the outage are gone.
      this.poolInteractive = 0;
      this.poolBackground = 0;
      this.deniedUntil.interactive = 0;
      this.deniedUntil.background = 0;
      this.joined = true;
      if (this.fallbackInFlight === 0) this.fallback = undefined;
      this.schedule();
      return true;
    } catch (error) {
      this.context.connection.failed(error);
      // Answers that came meanwhile are in what the next rejoin says is in flight.
      this.settled = 0;
      this.unanswered = 0;
      this.unansweredFirst = 0;
      this.observations = [];
      return false;
    }
  }

  /**
   * Runs the periodic work: reports answers, gives back leases unused for {@link IDLE_LEASE_RETURN_MS}, refreshes a state
   * the poll loops read. Called every {@link MAINTAIN_MS} by src/redis/shared-budgets.ts.
   */
  maintain(): void {
    if (!this.joined || this.closed) return;
    const now = this.context.now();
    const snapshotAt = this.snapshot?.at ?? 0;
    const due =
      this.settled > 0 ||
      this.interactiveTaken > 0 ||
      this.observations.length > 0 ||
      this.releaseDue(now) ||
      (this.stateReadAt > snapshotAt &&
        now - snapshotAt >= SNAPSHOT_MAX_AGE_MS &&
        now - this.usedAt < this.context.limits.windowMs);
    if (due) void this.pump(true);
  }

  /**
   * Gives back unspent leases and reports what is pending. A later take reopens it (src/redis/shared-budgets.ts
   * keeps maintaining it then): closing never strands what it leases afterwards.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.joined) {
      this.leasedAt = -Infinity;
      await this.pump(true);
      // A take came meanwhile and reopened it.
      if (this.leasedAt !== -Infinity) return;
    }
    this.closed = true;
  }

  private reopen(): void {
    this.closed = false;
    if (this.leasedAt === -Infinity) this.leasedAt = 0;
    this.context.reopened?.(this);
  }

  private takeLocally(priority: Priority, client: string | undefined): TakeResult | Promise<TakeResult> {
    const fallback = this.fallback ?? this.fallBackNow();
    // Leased before the outage: Redis still counts them as held by this replica.
    if (this.consume(priority)) return TAKEN;
    // The local share goes out once the other replicas surely reserve it (they begin when they miss this replica's
    // heartbeats). They keep it until a window after its last one, then count it as gone; a replica cut off alone for
    // longer keeps serving from its share all the same (issue 14: replicas keep serving while Redis fails, and most
    // outages are Redis's own, seen by every replica), at the risk the README states for a partition that long.
    const reserved = this.context.registry.reservedShare(this.context.limits.windowMs);
    // Until then (at most two heartbeats after the outage began) a request waits rather than fail: issue 14 wants
    // queries answered through a Redis outage.
    if (reserved && reserved.fromMs > 0) return delay(reserved.fromMs).then(() => this.take(priority, client));
    if (fallback.probing) {
      // Until they began to, the others may have spent anything of upstream's window: one request first, whose
      // answer (read as this share) tells what is left.
      fallback.probing = false;
      fallback.budget.restrict({ tokens: 1, window: null, blockedForMs: 0 });
      let resolve!: () => void;
      const answered = new Promise<void>((done) => (resolve = done));
      fallback.probe = { answered, resolve };
    }
    const result = fallback.budget.take(priority, client);
    if (result.ok) this.fallbackInFlight += 1;
    // Refused while the first request is out (its answer tells what is left): wait for it rather than fail.
    else if (fallback.probe && this.fallbackInFlight > 0) {
      return fallback.probe.answered.then(() => this.take(priority, client));
    }
    // A share of the limit refills in small steps: a query that would get a token within a second waits for it
    // rather than fail (issue 14: queries keep answering while Redis is down).
    else if (priority === 'interactive' && result.reason === 'budget' && result.retryAfterMs <= FALLBACK_WAIT_MS) {
      return delay(result.retryAfterMs).then(() => this.take(priority, client));
    }
    return result;
  }

  private fallBackNow(): NonNullable<SharedBudget['fallback']> {
    this.fallBack(this.context.registry.fallbackReplicas());
    return this.fallback!;
  }

  private consume(priority: Priority): boolean {
    if (priority === 'background') {
      if (this.poolBackground < 1) return false;
      this.poolBackground -= 1;
    } else if (this.poolInteractive >= 1) this.poolInteractive -= 1;
    else if (this.poolBackground >= 1) this.poolBackground -= 1;
    else return false;
    if (priority === 'interactive') this.interactiveTaken += 1;
    this.sharedInFlight += 1;
    return true;
  }

  /** Records an answer's window for the next report, merged like the in-process budget merges its windows. */
  private observe(remaining: number, resetAt: number): void {
    const tolerance = sameWindowToleranceMs(this.context.limits.windowMs);
    const same = this.observations.find((o) => Math.abs(o.resetAt - resetAt) < tolerance);
    if (same) {
      same.remaining = Math.min(same.remaining, remaining);
      same.resetAt = Math.min(same.resetAt, resetAt);
      return;
    }
    this.observations.push({ remaining, resetAt });
    if (this.observations.length > MAX_MIRRORED_WINDOWS) {
      this.observations = this.observations.sort((a, b) => a.resetAt - b.resetAt).slice(0, MAX_MIRRORED_WINDOWS);
    }
  }

  private releaseDue(now: number): boolean {
    return (
      this.poolInteractive + this.poolBackground > 0 &&
      this.waiters.length === 0 &&
      now - this.leasedAt >= IDLE_LEASE_RETURN_MS
    );
  }

  /** Runs the waiting takes' exchange once the current turn of the event loop has queued all of them. */
  private schedule(): void {
    if (this.scheduled || this.pumping) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.pump(false);
    });
  }

  /** Exchanges with Redis while takes wait or a block is to be shared (and once when `force`d). Never rejects. */
  private async pump(force: boolean): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.joined && (force || this.reportNow || this.waiters.length > 0 || this.blockFor !== null)) {
        force = false;
        this.reportNow = false;
        const epoch = this.epoch;
        const asked = this.waiters.slice();
        const exchange = this.nextExchange(asked);
        let value: SharedBudgetSnapshot;
        try {
          value = await this.run(exchange);
        } catch (error) {
          // The connection reports the outage, and src/redis/shared-budgets.ts makes every budget fall back.
          this.context.connection.failed(error);
          if (this.epoch === epoch) this.fallBack(this.context.registry.fallbackReplicas());
          return;
        }
        // Leased before a fall back: rejoining replaces what Redis counts as held.
        if (this.epoch !== epoch) return;
        this.context.connection.succeeded();
        this.apply(value, asked);
      }
    } finally {
      this.pumping = false;
    }
  }

  private nextExchange(asked: readonly Waiter[]): BudgetExchange {
    const now = this.context.now();
    let interactive = 0;
    let background = 0;
    for (const waiter of asked) {
      waiter.asked = true;
      if (waiter.priority === 'background') background += 1;
      else interactive += 1;
    }
    const extra = leaseSize(this.context.limits.capacity, this.context.registry.alive());
    let released = 0;
    if (this.releaseDue(now) || this.closedOrClosing()) {
      released = this.poolInteractive + this.poolBackground;
      this.poolInteractive = 0;
      this.poolBackground = 0;
    }
    const exchange: BudgetExchange = {
      wantInteractive: interactive > 0 ? interactive + extra : 0,
      wantBackground: background > 0 ? background + extra : 0,
      settled: this.settled,
      unanswered: this.unanswered,
      unansweredFirst: this.unansweredFirst,
      observations: this.observations.map((o) => ({ remaining: o.remaining, resetMs: o.resetAt - now })),
      released,
      interactiveTaken: this.interactiveTaken,
      blockForMs: this.blockFor,
      tokensCeil: null,
      holds: null,
    };
    this.settled = 0;
    this.unanswered = 0;
    this.unansweredFirst = 0;
    this.observations = [];
    this.blockFor = null;
    this.interactiveTaken = 0;
    return exchange;
  }

  private closedOrClosing(): boolean {
    return this.closed || this.leasedAt === -Infinity;
  }

  private apply(value: SharedBudgetSnapshot, asked: readonly Waiter[]): void {
    const now = this.context.now();
    this.snapshot = { at: now, value };
    this.blockedUntil = Math.max(this.blockedUntil, now + value.blockedForMs);
    if (value.grantedInteractive + value.grantedBackground > 0 && !this.closedOrClosing()) this.leasedAt = now;
    this.poolInteractive += value.grantedInteractive;
    this.poolBackground += value.grantedBackground;
    if (asked.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => !waiter.asked);
    for (const waiter of asked) {
      if (this.consume(waiter.priority)) {
        if (waiter.usage) this.shares.charge(waiter.usage);
        waiter.resolve(TAKEN);
      } else {
        const wait = waiter.priority === 'background' ? value.backgroundWaitMs : value.interactiveWaitMs;
        this.deniedUntil[waiter.priority] = Math.max(this.deniedUntil[waiter.priority], now + wait);
        waiter.resolve(refusal(Math.max(wait, this.blockedUntil - now)));
      }
    }
  }

  private run(exchange: BudgetExchange): Promise<SharedBudgetSnapshot> {
    const { connection, keys, registry, limits } = this.context;
    return exchangeBudget(
      connection,
      keys,
      registry.id,
      this.credentialKey,
      limits,
      exchange,
      registry.fallbackReplicas(),
    );
  }
}

function refusal(waitMs: number): TakeResult {
  return { ok: false, retryAfterMs: Math.max(1, Math.ceil(waitMs)), reason: 'budget' };
}

/** A `Ratelimit` answer read as one replica's share: upstream's remaining count is the whole account's. */
function scaled(observation: RateLimitObservation, replicas: number): RateLimitObservation {
  return { remaining: Math.floor(observation.remaining / replicas), resetS: observation.resetS };
}
