/**
 * The shared budgets of one replica, one per credential (src/redis/shared-budget.ts): built through
 * {@link SharedBudgets.factory} (createUpstream's `budgets` option), maintained on one timer, told about outages
 * and recoveries of the connection, and about 429s other replicas got (published by the budget script).
 */
import type { UpstreamConfig } from '../config.js';
import type { BudgetFactory } from '../upstream/budget.js';
import { createCredential } from '../upstream/credential.js';
import type { RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import type { ReplicaRegistry } from './registry.js';
import { MAINTAIN_MS, SharedBudget } from './shared-budget.js';

/**
 * Budgets kept before the least recently used idle one is closed (its leases given back): createUpstream's own
 * credential limit (src/upstream/client.ts). Never the server's own credential's, never one with a take waiting or
 * a request unsettled; one closed while createUpstream still holds it reopens on its next take.
 */
export const MAX_BUDGETS = 1000;
/** Longest `stop()` waits for budgets to give their leases back. */
const STOP_WAIT_MS = 1000;

export interface SharedBudgets {
  readonly factory: BudgetFactory;
  /** The budget of a credential key built so far, if any (tests and diagnostics). */
  get(credentialKey: string): SharedBudget | undefined;
  /** Subscribes to other replicas' blocks and starts the maintenance timer. */
  start(): Promise<void>;
  /** Every budget rejoins (after the registry has renewed this replica's presence). */
  rejoin(): Promise<void>;
  /** Gives leases back and stops the timer. */
  stop(): Promise<void>;
}

export function createSharedBudgets(options: {
  readonly connection: RedisConnection;
  readonly keys: RedisKeys;
  readonly registry: ReplicaRegistry;
  readonly upstream: UpstreamConfig;
  readonly now?: () => number;
  /** @default {@link MAX_BUDGETS} */
  readonly maxBudgets?: number;
}): SharedBudgets {
  const { connection, keys, registry, upstream } = options;
  const maxBudgets = options.maxBudgets ?? MAX_BUDGETS;
  const defaultKey = createCredential(upstream.accountId, upstream.apiToken).key;
  const context = {
    connection,
    keys,
    registry,
    limits: { capacity: upstream.rateLimit, windowMs: upstream.rateWindowS * 1000 },
    clientShare: upstream.clientBudgetShare,
    now: options.now ?? Date.now,
    reopened: (budget: SharedBudget) => {
      if (!budgets.has(budget.credentialKey)) keep(budget);
    },
  };
  const budgets = new Map<string, SharedBudget>();
  /** The same budgets by the id that names their credential in Redis (messages name credentials so). */
  const byId = new Map<string, SharedBudget>();
  const keep = (budget: SharedBudget) => {
    budgets.set(budget.credentialKey, budget);
    byId.set(keys.credentialId(budget.credentialKey), budget);
    if (budgets.size > maxBudgets) evictOne(budget);
  };
  /** Closes the least recently used budget that is idle, not the server credential's and not `kept` (if any is). */
  const evictOne = (kept: SharedBudget) => {
    let victim: SharedBudget | undefined;
    for (const budget of budgets.values()) {
      if (budget === kept || budget.credentialKey === defaultKey || budget.busy) continue;
      if (!victim || budget.lastUsedAt < victim.lastUsedAt) victim = budget;
    }
    if (!victim) return;
    budgets.delete(victim.credentialKey);
    byId.delete(keys.credentialId(victim.credentialKey));
    void victim.close();
  };
  let timer: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void) | undefined;

  const rejoin = async () => {
    await Promise.all([...budgets.values()].map((budget) => budget.rejoin()));
  };
  const offStatus = connection.onStatus((status) => {
    if (status === 'down') {
      for (const budget of budgets.values()) budget.fallBack(registry.fallbackReplicas());
    } else {
      // Presence first: the script counts a replica's holds only while the registry lists it.
      void registry.beat().then((ok) => (ok ? rejoin() : undefined));
    }
  });

  const onMessage = (channel: string, message: string) => {
    if (channel !== keys.channel('budget')) return;
    const [id, ms] = message.split(' ');
    const wait = Number(ms);
    if (id !== undefined && Number.isFinite(wait) && wait > 0) byId.get(id)?.blockedElsewhere(wait);
  };

  return {
    factory(credential) {
      const existing = budgets.get(credential.key);
      if (existing) return existing;
      const budget = new SharedBudget(credential.key, context);
      keep(budget);
      return budget;
    },
    get: (credentialKey) => budgets.get(credentialKey),
    async start() {
      const subscriber = connection.subscriber();
      subscriber.on('message', onMessage);
      unsubscribe = () => subscriber.off('message', onMessage);
      // Not awaited: while Redis is unreachable it waits for the connection (ioredis subscribes once connected).
      subscriber.subscribe(keys.channel('budget')).catch(() => undefined);
      timer = setInterval(() => {
        for (const budget of budgets.values()) budget.maintain();
      }, MAINTAIN_MS);
      timer.unref();
    },
    rejoin,
    async stop() {
      clearInterval(timer);
      offStatus();
      unsubscribe?.();
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...budgets.values()].map((budget) => budget.close())),
        new Promise((resolve) => (deadline = setTimeout(resolve, STOP_WAIT_MS))),
      ]);
      clearTimeout(deadline);
    },
  };
}
