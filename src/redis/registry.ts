/**
 * Which replicas are alive. Each replica renews its presence every {@link HEARTBEAT_MS}: a key that expires after
 * {@link REPLICA_TTL_MS} unless renewed (for anyone asking about one replica), and its score in a sorted set of
 * replicas by last heartbeat (for counting them, and for scripts: src/redis/budget-script.ts). A replica that misses
 * heartbeats for the TTL counts as gone. The count, or `REDIS_FALLBACK_REPLICAS` if that is more, is what a replica
 * divides the budget by while Redis is unreachable (src/redis/shared-budget.ts).
 */
import { randomBytes } from 'node:crypto';
import type { RedisConnection } from './connection.js';
import type { RedisKeys } from './keys.js';
import { LUA_NOW_MS, RedisScript } from './script.js';

export const HEARTBEAT_MS = 1000;
export const REPLICA_TTL_MS = 5000;

const HEARTBEAT = new RedisScript(`${LUA_NOW_MS}
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
redis.call('SET', KEYS[2], ARGV[3], 'PX', ttl)
return redis.call('ZCARD', KEYS[1])
`);

const LEAVE = new RedisScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
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
): ReplicaRegistry {
  const id = randomBytes(8).toString('hex');
  let alive: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<boolean> | undefined;
  const presence = JSON.stringify({ pid: process.pid, since: new Date().toISOString() });

  const beat = (): Promise<boolean> =>
    (beating ??= (async () => {
      try {
        const count = await HEARTBEAT.run(
          connection.client,
          [keys.replicas(), keys.replica(id)],
          [id, REPLICA_TTL_MS, presence],
        );
        alive = Math.max(1, Number(count));
        connection.succeeded();
        return true;
      } catch (error) {
        connection.failed(error);
        return false;
      } finally {
        beating = undefined;
      }
    })());

  return {
    id,
    alive: () => alive ?? assumedReplicas,
    fallbackReplicas: () => Math.max(alive ?? 1, assumedReplicas),
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
      await LEAVE.run(connection.client, [keys.replicas(), keys.replica(id)], [id]).catch(() => undefined);
    },
  };
}
