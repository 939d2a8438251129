/**
 * What a replica shares with the others through Redis when `REDIS_URL` is set: its request budgets
 * (src/redis/shared-budgets.ts), its poll loops' work (src/redis/live-coordination.ts) and its finished-instance
 * details (src/redis/shared-finished.ts), over one connection, one set of key names and one replica registry.
 * Built by src/main.ts only when `REDIS_URL` is set (ioredis is loaded only then), and passed to src/app.ts as
 * `AppOptions.scaleOut`.
 */
import type { RedisConfig, UpstreamConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { BudgetFactory } from '../upstream/budget.js';
import { createRedisConnection, type RedisConnection } from './connection.js';
import { createRedisKeys, type RedisKeys } from './keys.js';
import { createLiveCoordination, type LiveCoordination } from './live-coordination.js';
import { createSharedFinishedStore, type SharedFinishedTier } from './shared-finished.js';
import { createReplicaRegistry, REPLICA_TTL_MS, type ReplicaRegistry } from './registry.js';
import { createSharedBudgets, type SharedBudgets } from './shared-budgets.js';

/** Longest `start()` waits for Redis; after it the replica starts on its local share and joins once Redis answers. */
export const START_WAIT_MS = 3000;

/** Resolves when `promise` does, or after `ms` at the latest. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ScaleOut {
  readonly connection: RedisConnection;
  readonly keys: RedisKeys;
  readonly registry: ReplicaRegistry;
  readonly budgets: SharedBudgets;
  /** For createUpstream's `budgets` option. */
  readonly budgetFactory: BudgetFactory;
  /** For createLiveHub's `coordinator` option: one leader polls each loop for every replica. */
  readonly live: LiveCoordination;
  /** For the finished-instance caches: one replica's fetch saves the others' budget. */
  readonly finished: SharedFinishedTier;
  /** Connects (waiting at most {@link START_WAIT_MS}), registers this replica and joins the shared budgets. */
  start(): Promise<void>;
  /** Gives leases back, leaves the registry and closes the connections. */
  stop(): Promise<void>;
}

/** Builds what a replica shares (src/main.ts, only with `REDIS_URL`); nothing connects before `start()`. */
export async function createScaleOut(options: {
  readonly redis: RedisConfig & { readonly url: string };
  readonly upstream: UpstreamConfig;
  /** `POLL_INTERVAL_MS`: leases are checked at least this often. */
  readonly pollIntervalMs: number;
  readonly logger: Logger;
}): Promise<ScaleOut> {
  const { redis, upstream, logger } = options;
  const keys = createRedisKeys(redis.keyPrefix);
  const connection = await createRedisConnection({
    url: redis.url,
    logger,
    consequence: () => {
      const replicas = registry.fallbackReplicas();
      const share = Math.max(1, Math.floor(upstream.rateLimit / replicas));
      return (
        `until it is back, this replica serves from a local request budget of ${share} requests per ` +
        `${upstream.rateWindowS} s (UPSTREAM_RATE_LIMIT / ${replicas} ${replicas === 1 ? 'replica' : 'replicas'}: last seen alive, at least REDIS_FALLBACK_REPLICAS), ` +
        `and polls for its own subscribers itself`
      );
    },
  });
  // Silent replicas stay listed for a window after their heartbeats' TTL: the budget reserves their share that long.
  const registry: ReplicaRegistry = createReplicaRegistry(
    connection,
    keys,
    redis.fallbackReplicas,
    REPLICA_TTL_MS + upstream.rateWindowS * 1000,
  );
  const budgets = createSharedBudgets({ connection, keys, registry, upstream });
  const live = createLiveCoordination({
    connection,
    keys,
    replicaId: registry.id,
    pollIntervalMs: options.pollIntervalMs,
    logger,
  });
  const finished = createSharedFinishedStore(connection, keys, registry.id);
  let started = false;
  return {
    connection,
    keys,
    registry,
    budgets,
    budgetFactory: budgets.factory,
    live,
    finished,
    async start() {
      if (started) return;
      started = true;
      const reached = await connection.connect(START_WAIT_MS);
      if (reached && (await registry.beat())) await budgets.rejoin();
      registry.start();
      await budgets.start();
      live.start();
      const subscribed = finished.start();
      // Reads served before the first subscription is acknowledged would be refused by it (kept nowhere): wait for
      // it as long as for Redis itself, and only when Redis answered.
      if (reached) await within(subscribed, START_WAIT_MS);
    },
    async stop() {
      await live.stop();
      await budgets.stop();
      await registry.stop();
      await connection.close();
    },
  };
}
