/**
 * The finished-instance cache's shared tier (src/cache/finished-instances.ts) in Redis: one key per credential,
 * workflow and instance, named by hashes (src/redis/keys.ts), holding the details as JSON for the cache's TTL.
 * Reads fail fast while Redis is unreachable (src/redis/connection.ts) and then count as misses.
 *
 * A delete (a mutation changed the instance: a restart makes a finished instance run again) also tells every other
 * replica, on a channel of its own, to forget its in-memory copy: otherwise it would serve the old terminal status
 * until its TTL. Pub/sub is at-most-once, so a replica whose subscription was away forgets everything it holds,
 * and deletes made while Redis was unreachable are sent once it answers again.
 */
import type { SharedFinishedStore } from '../cache/finished-instances.js';
import type { InstanceDetails } from '../upstream/types.js';
import type { RedisConnection } from './connection.js';
import { decodeJson, encodeJson } from './json-codec.js';
import type { RedisKeys } from './keys.js';

export interface SharedFinishedTier extends SharedFinishedStore {
  /** Subscribes to other replicas' deletes, and sends those made here while Redis was unreachable when it is back. */
  start(): void;
}

/** `r`: the replica that deleted; `c`: the credential's id (src/redis/keys.ts); `i`: the instance id. */
interface ForgetMessage {
  readonly r: string;
  readonly c: string;
  readonly i: string;
}

/** Deletes kept for sending after an outage; beyond them, copies still expire with the cache's TTL. */
const MAX_MISSED_DELETES = 1000;

const isForgetMessage = (value: unknown): value is ForgetMessage => {
  const message = value as Partial<Record<string, unknown>> | null;
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof message.r === 'string' &&
    typeof message.c === 'string' &&
    typeof message.i === 'string'
  );
};

export function createSharedFinishedStore(
  connection: RedisConnection,
  keys: RedisKeys,
  /** This replica's id (src/redis/registry.ts): its own deletes need no forgetting. */
  replicaId: string,
): SharedFinishedTier {
  const up = () => connection.status() === 'up';
  const failed = (error: unknown) => connection.failed(error);
  // `v1`: the format of the messages below; another one gets another channel.
  const channel = keys.channel('finished:v1');
  /** Per credential id, what forgets its copies here. */
  const watchers = new Map<string, Set<(instanceId: string | undefined) => void>>();
  /** Deletes made while Redis was unreachable, by key; sent once it answers again. */
  const missed = new Map<string, readonly [credentialKey: string, workflowName: string, instanceId: string]>();
  let started = false;

  const forget = (credentialId: string | undefined, instanceId: string | undefined) => {
    const notified = credentialId === undefined ? [...watchers.values()] : [watchers.get(credentialId)];
    for (const set of notified) for (const watcher of set ?? []) watcher(instanceId);
  };

  const send = (credentialKey: string, workflowName: string, instanceId: string) => {
    const message: ForgetMessage = { r: replicaId, c: keys.credentialId(credentialKey), i: instanceId };
    // One round trip, in this order: a replica told to forget finds the shared copy gone too.
    connection.client
      .pipeline()
      .del(keys.finished(credentialKey, workflowName, instanceId))
      .publish(channel, JSON.stringify(message))
      .exec()
      .then((results) => {
        const error = results?.find(([failure]) => failure)?.[0];
        if (error) failed(error);
      }, failed);
  };

  return {
    async getMany(credentialKey, instances) {
      if (!up() || instances.length === 0) return instances.map(() => undefined);
      let texts: (string | null)[];
      try {
        texts = await connection.client.mget(
          instances.map(({ workflowName, instanceId }) => keys.finished(credentialKey, workflowName, instanceId)),
        );
      } catch (error) {
        failed(error);
        return instances.map(() => undefined);
      }
      return texts.map((text) => {
        if (text === null) return undefined;
        try {
          return decodeJson<InstanceDetails>(text);
        } catch {
          // Unreadable (another format): a miss, and the fetch that follows overwrites it.
          return undefined;
        }
      });
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
      if (up()) send(credentialKey, workflowName, instanceId);
      else {
        const key = keys.finished(credentialKey, workflowName, instanceId);
        missed.delete(key);
        missed.set(key, [credentialKey, workflowName, instanceId]);
        if (missed.size > MAX_MISSED_DELETES) missed.delete(missed.keys().next().value!);
      }
    },
    watch(credentialKey, watcher) {
      const id = keys.credentialId(credentialKey);
      let set = watchers.get(id);
      if (!set) watchers.set(id, (set = new Set()));
      set.add(watcher);
      return () => {
        set.delete(watcher);
        if (set.size === 0 && watchers.get(id) === set) watchers.delete(id);
      };
    },
    start() {
      if (started) return;
      started = true;
      const subscriber = connection.subscriber();
      subscriber.on('message', (from: string, text: string) => {
        if (from !== channel) return;
        let message: unknown;
        try {
          message = JSON.parse(text);
        } catch {
          return;
        }
        if (isForgetMessage(message) && message.r !== replicaId) forget(message.c, message.i);
      });
      // Deletes published while the subscriber connection was away are lost: once subscribed again (the
      // acknowledgement, not just the reconnection), nothing held here is trusted.
      subscriber.on('ready', () => {
        subscriber.subscribe(channel).then(
          () => forget(undefined, undefined),
          () => undefined,
        );
      });
      subscriber.subscribe(channel).catch(() => undefined);
      connection.onStatus((status) => {
        if (status !== 'up') return;
        const pending = [...missed.values()];
        missed.clear();
        for (const [credentialKey, workflowName, instanceId] of pending) send(credentialKey, workflowName, instanceId);
      });
    },
  };
}
