/**
 * The finished-instance cache's shared tier (src/cache/finished-instances.ts) in Redis: one key per credential,
 * workflow and instance, named by hashes (src/redis/keys.ts), holding the details as JSON for the cache's TTL.
 * Reads fail fast while Redis is unreachable (src/redis/connection.ts) and then count as misses.
 */
import type { SharedFinishedStore } from '../cache/finished-instances.js';
import type { InstanceDetails } from '../upstream/types.js';
import type { RedisConnection } from './connection.js';
import { decodeJson, encodeJson } from './json-codec.js';
import type { RedisKeys } from './keys.js';

export function createSharedFinishedStore(connection: RedisConnection, keys: RedisKeys): SharedFinishedStore {
  const up = () => connection.status() === 'up';
  const failed = (error: unknown) => connection.failed(error);
  return {
    async get(credentialKey, workflowName, instanceId) {
      if (!up()) return undefined;
      try {
        const text = await connection.client.get(keys.finished(credentialKey, workflowName, instanceId));
        return text === null ? undefined : decodeJson<InstanceDetails>(text);
      } catch (error) {
        failed(error);
        return undefined;
      }
    },
    put(credentialKey, details, ttlMs) {
      if (!up()) return;
      const key = keys.finished(credentialKey, details.workflowName, details.id);
      const value = encodeJson(details);
      // Simple details only fill a gap: they never replace full ones of the same finished run.
      const written = details.simple
        ? connection.client.set(key, value, 'PX', ttlMs, 'NX')
        : connection.client.set(key, value, 'PX', ttlMs);
      written.catch(failed);
    },
    delete(credentialKey, workflowName, instanceId) {
      if (!up()) return;
      connection.client.del(keys.finished(credentialKey, workflowName, instanceId)).catch(failed);
    },
  };
}
