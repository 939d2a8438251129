/**
 * The finished-instance cache's shared tier (src/cache/finished-instances.ts) in Redis: one key per credential,
 * workflow and instance, named by hashes (src/redis/keys.ts), holding the details as JSON for the cache's TTL.
 * Reads fail fast while Redis is unreachable (src/redis/connection.ts) and then count as misses.
 *
 * Details are stored at most {@link STORE_BATCH_MS} after their fetch, those of one credential together in one round
 * trip that also announces their keys on a channel (src/redis/finished-scripts.ts), and
 * every replica keeps the announced keys (src/redis/finished-index.ts): a read asks Redis only for keys it holds, so
 * a read of a running instance costs no round trip before its upstream call. Pub/sub is at-most-once: a replica
 * that (re)subscribes reads the keys stored meanwhile from a per-credential sorted set the same script keeps.
 *
 * A delete (a mutation changed the instance: a restart makes a finished instance run again) also tells every other
 * replica, on the same channel, to forget its in-memory copy: otherwise it would serve the old terminal status
 * until its TTL. A replica whose subscription was away forgets everything it holds, and deletes made while Redis
 * was unreachable are sent once it answers again.
 */
import type { SharedFinishedStore } from '../cache/finished-instances.js';
import type { InstanceDetails } from '../upstream/types.js';
import type { RedisConnection } from './connection.js';
import { createFinishedIndex, MAX_INDEXED_KEYS } from './finished-index.js';
import { SNAPSHOT, STORE_MANY } from './finished-scripts.js';
import { decodeJson, encodeJson, hasFields } from './json-codec.js';
import type { RedisKeys } from './keys.js';

export interface SharedFinishedTier extends SharedFinishedStore {
  /**
   * Subscribes to other replicas' deletes and stores, and sends deletes made here while Redis was unreachable when
   * it is back. Resolves once first subscribed: that acknowledgement makes this replica forget what it holds and
   * refuse the answers of reads in flight (src/cache/finished-instances.ts), so reads should come after it.
   */
  start(): Promise<void>;
  /**
   * Whether a read here would ask Redis for the instance's details: some replica announced that it stored them and
   * they have not expired since (tests wait for it; an announcement has no other trace).
   */
  indexed(credentialKey: string, workflowName: string, instanceId: string): boolean;
}

/** `r`: the replica that deleted; `c`: the credential's id (src/redis/keys.ts); `i`: the instance id. */
interface ForgetMessage {
  readonly r: string;
  readonly c: string;
  readonly i: string;
}

/**
 * `k`: the details' key, which Redis holds for `t` ms more; `n`: the instance id. Without `i`, so that a replica of
 * an older version, which knows only {@link ForgetMessage}, ignores it.
 */
interface StoredMessage {
  readonly r: string;
  readonly c: string;
  readonly k: string;
  readonly n: string;
  readonly t: number;
}

/**
 * How long details wait to be stored with others. One round trip per fetched instance would cost more round trips than
 * upstream calls once the shared budget's own exchanges are added (`npm run bench -- s7`: 1.13 per upstream call for
 * first reads of finished instances); another replica reading the instance meanwhile fetches it itself.
 */
const STORE_BATCH_MS = 50;
/** Details stored in one round trip at most; more are stored at once in further ones. */
const MAX_STORE_BATCH = 100;

/** Details waiting to be stored, with their TTL. */
interface PendingStore {
  readonly details: InstanceDetails;
  readonly ttlMs: number;
}

/** Deletes kept for sending after an outage; beyond them, copies still expire with the cache's TTL. */
const MAX_MISSED_DELETES = 1000;

const isForgetMessage = (value: unknown): value is ForgetMessage =>
  hasFields(value, { r: 'string', c: 'string', i: 'string' });

const isStoredMessage = (value: unknown): value is StoredMessage =>
  hasFields(value, { c: 'string', k: 'string', n: 'string', t: 'number' });

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
  /** The credential key of each watched credential id, for reading its index. */
  const credentials = new Map<string, string>();
  const index = createFinishedIndex();
  /** Deletes made while Redis was unreachable, by key; sent once it answers again. */
  const missed = new Map<string, readonly [credentialKey: string, workflowName: string, instanceId: string]>();
  /** Per credential key, the details waiting to be stored, by their key. */
  const pending = new Map<string, Map<string, PendingStore>>();
  let storeTimer: NodeJS.Timeout | undefined;
  let started = false;

  const forget = (credentialId: string | undefined, instanceId: string | undefined) => {
    // Details fetched before the change (or before a gap in which one may have been missed) are not stored either.
    for (const [credentialKey, waiting] of pending) {
      if (credentialId !== undefined && keys.credentialId(credentialKey) !== credentialId) continue;
      for (const [key, { details }] of waiting)
        if (instanceId === undefined || details.id === instanceId) waiting.delete(key);
    }
    const notified = credentialId === undefined ? [...watchers.values()] : [watchers.get(credentialId)];
    for (const set of notified) for (const watcher of set ?? []) watcher(instanceId);
  };

  /** Adds the keys a credential's index holds (announcements this replica may have missed). */
  const load = (credentialKey: string) => {
    if (!up()) return;
    const credentialId = keys.credentialId(credentialKey);
    SNAPSHOT.run(connection.client, [keys.finishedIndex(credentialKey)], [MAX_INDEXED_KEYS]).then((reply) => {
      if (!Array.isArray(reply)) return;
      for (let i = 0; i + 1 < reply.length; i += 2) {
        const [member, ttlMs] = [reply[i], reply[i + 1]];
        if (typeof member !== 'string' || typeof ttlMs !== 'number') continue;
        const space = member.indexOf(' ');
        if (space > 0) index.add(member.slice(0, space), credentialId, member.slice(space + 1), ttlMs);
      }
    }, failed);
  };

  const send = (credentialKey: string, workflowName: string, instanceId: string) => {
    const message: ForgetMessage = { r: replicaId, c: keys.credentialId(credentialKey), i: instanceId };
    const key = keys.finished(credentialKey, workflowName, instanceId);
    // One round trip, in this order: a replica told to forget finds the shared copy gone too.
    connection.client
      .pipeline()
      .del(key)
      .zrem(keys.finishedIndex(credentialKey), `${key} ${instanceId}`)
      .publish(channel, JSON.stringify(message))
      .exec()
      .then((results) => {
        const error = results?.find(([failure]) => failure)?.[0];
        if (error) failed(error);
      }, failed);
  };

  /**
   * Stores what waits, one round trip per credential (and per {@link MAX_STORE_BATCH}). This replica indexes each key
   * when its own announcement arrives, in order with any delete of the instance on the same channel; a delete made here
   * before then has already dropped the details from what waits.
   */
  const storePending = () => {
    storeTimer = undefined;
    const batches = [...pending];
    pending.clear();
    if (!up()) return;
    for (const [credentialKey, waiting] of batches) {
      const entries = [...waiting];
      for (let from = 0; from < entries.length; from += MAX_STORE_BATCH) {
        const batch = entries.slice(from, from + MAX_STORE_BATCH);
        STORE_MANY.run(
          connection.client,
          [keys.finishedIndex(credentialKey), channel, ...batch.map(([key]) => key)],
          [
            replicaId,
            keys.credentialId(credentialKey),
            ...batch.flatMap(([, { details, ttlMs }]) => [
              encodeJson(details),
              ttlMs,
              details.simple ? '1' : '0',
              details.id,
            ]),
          ],
        ).catch(failed);
      }
    }
  };

  return {
    async getMany(credentialKey, instances) {
      const found: (InstanceDetails | undefined)[] = instances.map(() => undefined);
      if (!up()) return found;
      // Only keys some replica announced: the others (running instances, never stored) would miss.
      const asked = instances
        .map(({ workflowName, instanceId }, i) => ({ i, key: keys.finished(credentialKey, workflowName, instanceId) }))
        .filter(({ key }) => index.has(key));
      if (asked.length === 0) return found;
      let texts: (string | null)[];
      try {
        texts = await connection.client.mget(asked.map(({ key }) => key));
      } catch (error) {
        failed(error);
        return found;
      }
      texts.forEach((text, j) => {
        if (text === null) return;
        try {
          found[asked[j]!.i] = decodeJson<InstanceDetails>(text);
        } catch {
          // Unreadable (another format): a miss, and the fetch that follows overwrites it.
        }
      });
      return found;
    },
    put(credentialKey, details, ttlMs) {
      if (!up()) return;
      const key = keys.finished(credentialKey, details.workflowName, details.id);
      let waiting = pending.get(credentialKey);
      if (!waiting) pending.set(credentialKey, (waiting = new Map()));
      // Simple details only fill a gap: they never replace full ones of the same finished run.
      if (details.simple && waiting.get(key)?.details.simple === false) return;
      waiting.set(key, { details, ttlMs });
      storeTimer ??= setTimeout(storePending, STORE_BATCH_MS).unref();
    },
    delete(credentialKey, workflowName, instanceId) {
      pending.get(credentialKey)?.delete(keys.finished(credentialKey, workflowName, instanceId));
      index.remove(keys.credentialId(credentialKey), instanceId);
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
      if (!set) {
        watchers.set(id, (set = new Set()));
        credentials.set(id, credentialKey);
        // A credential this replica serves for the first time: what was stored before it listened.
        if (started) load(credentialKey);
      }
      set.add(watcher);
      return () => {
        set.delete(watcher);
        if (set.size === 0 && watchers.get(id) === set) {
          watchers.delete(id);
          credentials.delete(id);
        }
      };
    },
    indexed: (credentialKey, workflowName, instanceId) =>
      index.has(keys.finished(credentialKey, workflowName, instanceId)),
    start() {
      if (started) return Promise.resolve();
      started = true;
      let subscribed!: () => void;
      const first = new Promise<void>((resolve) => (subscribed = resolve));
      const subscriber = connection.subscriber();
      subscriber.on('message', (from: string, text: string) => {
        if (from !== channel) return;
        let message: unknown;
        try {
          message = JSON.parse(text);
        } catch {
          return;
        }
        if (isForgetMessage(message)) {
          index.remove(message.c, message.i);
          if (message.r !== replicaId) forget(message.c, message.i);
        } else if (isStoredMessage(message)) index.add(message.k, message.c, message.n, message.t);
      });
      // Messages published while the subscriber connection was away are lost: once subscribed again (the
      // acknowledgement, not just the reconnection), nothing held here is trusted, and the keys Redis holds are
      // read again from the indexes (a delete read back meanwhile as still held costs a round trip that misses).
      const subscribe = () =>
        subscriber.subscribe(channel).then(
          () => {
            forget(undefined, undefined);
            index.clear();
            for (const credentialKey of credentials.values()) load(credentialKey);
            subscribed();
          },
          () => undefined,
        );
      subscriber.on('ready', subscribe);
      // Other modules may have connected it already (src/redis/scale-out.ts starts them first): no `ready` to come.
      if (subscriber.status === 'ready') void subscribe();
      connection.onStatus((status) => {
        if (status !== 'up') return;
        // Reads of the indexes may have failed during the outage; reading them again only adds keys.
        for (const credentialKey of credentials.values()) load(credentialKey);
        const pending = [...missed.values()];
        missed.clear();
        for (const [credentialKey, workflowName, instanceId] of pending) send(credentialKey, workflowName, instanceId);
      });
      return first;
    },
  };
}
