/**
 * Which replicas are alive. Each replica renews its presence every {@link HEARTBEAT_MS}: a key that expires after
 * {@link REPLICA_TTL_MS} unless renewed (for anyone asking about one replica), and its score in a sorted set of
 * replicas by last heartbeat (for counting them, and for scripts: src/redis/budget-script.ts). A replica that misses
 * heartbeats for the TTL counts as gone. The count, or `REDIS_FALLBACK_REPLICAS` if that is more, is what a replica
 * divides the budget by while Redis is unreachable (src/redis/shared-budget.ts); each heartbeat records that divisor.
 *
 * A replica that stops beating may have crashed, or may only have lost Redis and be spending its local share (a
 * partition): the shared budget keeps that share reserved for it (src/redis/budget-script.ts) from
 * {@link SUSPECT_MS} after its last heartbeat until a window later, so gone replicas stay listed (with their divisor)
 * for `retainMs`. The replica itself begins to spend its local share once the others surely reserve it
 * ({@link ReplicaRegistry.reservedShare}).
 */
import { randomBytes } from 'node:crypto';
import type { RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import { LUA_NOW_MS, RedisScript } from './script.js';

export const HEARTBEAT_MS = 1000;
export const REPLICA_TTL_MS = 5000;
/**
 * A replica whose last heartbeat is older than this may be serving from its local share: two heartbeats missed
 * (one may be late behind a busy event loop). From then on the shared budget reserves its share.
 */
export const SUSPECT_MS = 2 * HEARTBEAT_MS;

const HEARTBEAT = new RedisScript(`${LUA_NOW_MS}
local ttl = tonumber(ARGV[2])
local retain = tonumber(ARGV[4])
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - retain)
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
  redis.call('HDEL', KEYS[3], unpack(gone))
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
local alive = redis.call('ZCOUNT', KEYS[1], now - ttl, '+inf')
redis.call('HSET', KEYS[3], ARGV[1], math.max(alive, tonumber(ARGV[5])))
redis.call('PEXPIRE', KEYS[1], retain * 2)
redis.call('PEXPIRE', KEYS[3], retain * 2)
redis.call('SET', KEYS[2], ARGV[3], 'PX', ttl)
return alive
`);

const LEAVE = new RedisScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`);

export interface ReplicaRegistry {
  /** This replica's id: random, made at start; names its presence and what it holds in shared state. */
  readonly id: string;
  /** Replicas alive at the last heartbeat, this one included; the configured fallback count before the first. */
  alive(): number;
  /**
   * What the limit is divided by while Redis is unreachable: the replicas last seen alive, never fewer than
   * `REDIS_FALLBACK_REPLICAS` (replicas may have been added, or started, while this one could not see them).
   */
  fallbackReplicas(): number;
  /**
   * When, from now, the shared budget surely reserves this replica's share (src/redis/budget-script.ts: from
   * {@link SUSPECT_MS} after its last heartbeat until a window after it), measured from the heartbeats that may have
   * reached Redis: the reservation begins no sooner than `fromMs` (negative: passed) and ends no sooner than
   * `untilMs`. Null when no heartbeat ever may have (no replica shares a budget with this one then).
   */
  reservedShare(windowMs: number): { readonly fromMs: number; readonly untilMs: number } | null;
  /** Renews this replica's presence now; resolves false (never rejects) when Redis could not be reached. */
  beat(): Promise<boolean>;
  /** Heartbeats every {@link HEARTBEAT_MS} from now on; `onBeat` runs after each one that reached Redis. */
  start(onBeat?: () => void): void;
  /** Stops the heartbeats and removes this replica's presence (when Redis is reachable). */
  stop(): Promise<void>;
}

export function createReplicaRegistry(
  connection: RedisConnection,
  keys: RedisKeys,
  /** `REDIS_FALLBACK_REPLICAS` (src/config.ts). */
  assumedReplicas: number,
  /** How long a replica gone silent stays listed: at least {@link REPLICA_TTL_MS} plus the upstream window. */
  retainMs: number = REPLICA_TTL_MS,
): ReplicaRegistry {
  const id = randomBytes(8).toString('hex');
  let alive: number | undefined;
  /** When the latest heartbeat Redis answered was sent: Redis ran it no sooner. */
  let answeredSentAt = -Infinity;
  /**
   * When the answer or failure of the latest heartbeat that may have reached Redis came (one refused before it was
   * sent cannot have): Redis ran it no later. Infinity while one is on its way.
   */
  let settledAt = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<boolean> | undefined;
  const presence = JSON.stringify({ pid: process.pid, since: new Date().toISOString() });

  const beat = (): Promise<boolean> =>
    (beating ??= (async () => {
      let sending: number | undefined;
      try {
        if (connection.client.status === 'ready') {
          sending = Date.now();
          settledAt = Infinity;
        }
        const count = await HEARTBEAT.run(
          connection.client,
          [keys.replicas(), keys.replica(id), keys.replicaDivisors()],
          [id, REPLICA_TTL_MS, presence, Math.max(retainMs, REPLICA_TTL_MS), assumedReplicas],
        );
        alive = Math.max(1, Number(count));
        if (sending !== undefined) answeredSentAt = sending;
        connection.succeeded();
        return true;
      } catch (error) {
        connection.failed(error);
        return false;
      } finally {
        beating = undefined;
        if (sending !== undefined) settledAt = Date.now();
      }
    })());

  return {
    id,
    alive: () => alive ?? assumedReplicas,
    fallbackReplicas: () => Math.max(alive ?? 1, assumedReplicas),
    reservedShare(windowMs) {
      if (settledAt === -Infinity) return null;
      const now = Date.now();
      return { fromMs: settledAt + SUSPECT_MS - now, untilMs: answeredSentAt + windowMs - now };
    },
    beat,
    start(onBeat) {
      if (timer) return;
      timer = setInterval(() => {
        void beat().then((ok) => {
          if (ok) onBeat?.();
        });
      }, HEARTBEAT_MS);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      if (connection.status() !== 'up') return;
      await LEAVE.run(connection.client, [keys.replicas(), keys.replica(id), keys.replicaDivisors()], [id]).catch(
        () => undefined,
      );
    },
  };
}
