import { isTerminalStatus, type InstanceDetails } from '../upstream/types.js';

/**
 * Details of finished instances (complete, errored, terminated), kept for a short time across requests:
 * such an instance only changes again through a restart, and our own restart mutation invalidates it.
 * One cache per credential, so nothing crosses from one account or token to another.
 */
export interface FinishedInstanceCache {
  /** Cached details; with `full`, only details that include the step log. */
  get(workflowName: string, instanceId: string, full: boolean): InstanceDetails | undefined;
  /**
   * Stores details when the instance is finished; anything else is ignored (and forgets older details). With
   * `since` (a {@link mark} taken before the fetch), details of an instance forgotten meanwhile are not kept: the
   * fetch crossed a mutation, and its answer may predate it.
   */
  offer(details: InstanceDetails, since?: number): void;
  /** Marks how much has been forgotten so far, for {@link offer}'s `since`. */
  mark(): number;
  /** Forgets the instance here and in the shared store, whose other replicas then forget it too. */
  delete(workflowName: string, instanceId: string): void;
  /**
   * Details other replicas fetched (with `REDIS_URL`), for lookups {@link get} missed, in one round trip: kept
   * here too once found. Each is undefined without a shared store, on a miss, and when the store cannot be
   * reached (never rejects).
   */
  shared(lookups: readonly FinishedLookup[]): Promise<(InstanceDetails | undefined)[]>;
  /**
   * Forgets this replica's copies of an instance (of every workflow: an instance id names it well enough to
   * forget), or with undefined of everything: another replica changed it, or its news may have been missed.
   */
  forgetHere(instanceId: string | undefined): void;
}

export interface FinishedLookup {
  readonly workflowName: string;
  readonly instanceId: string;
  /** Only details that include the step log will do. */
  readonly full: boolean;
}

/**
 * Finished instances' details shared by replicas (src/redis/shared-finished.ts), per credential key. Its reads
 * resolve undefined rather than reject when the store is unreachable: the caller then asks upstream.
 */
export interface SharedFinishedStore {
  /** The details kept of each instance, in the order asked, in one round trip. */
  getMany(
    credentialKey: string,
    instances: readonly { readonly workflowName: string; readonly instanceId: string }[],
  ): Promise<(InstanceDetails | undefined)[]>;
  /** Keeps finished details for `ttlMs`; simple details never replace full ones. */
  put(credentialKey: string, details: InstanceDetails, ttlMs: number): void;
  /** Deletes the shared copy and tells every other replica to forget its own ({@link watch}). */
  delete(credentialKey: string, workflowName: string, instanceId: string): void;
  /**
   * Calls `forget` with the instance id when another replica deleted one of the credential's instances, and with
   * undefined when such news may have been lost (Redis was unreachable); until the returned function is called.
   */
  watch(credentialKey: string, forget: (instanceId: string | undefined) => void): () => void;
}

/** Per-credential registry of {@link FinishedInstanceCache}s, created once per app. */
export interface CacheRegistry {
  finished(credentialKey: string): FinishedInstanceCache;
}

const MAX_ENTRIES_PER_CREDENTIAL = 5000;
/** Instances whose last forgetting is remembered for fetches in flight; beyond them, every older fetch is refused. */
const MAX_FORGOTTEN = 1000;
/** Credentials kept, as the upstream client keeps their clients (`upstream/client.ts`, `maxCredentials`). */
const MAX_CREDENTIALS = 1000;

export const instanceKey = (workflowName: string, instanceId: string): string => `${workflowName}\u0000${instanceId}`;

export function createCacheRegistry(options: {
  ttlMs: number;
  now?: () => number;
  maxEntries?: number;
  /** Told of every lookup and whether it found details (metrics). */
  onLookup?: ((hit: boolean) => void) | undefined;
  /** Credentials whose caches are kept (per-request credentials can be many); the least recently used goes. */
  maxCredentials?: number;
  /** Shared with other replicas (with `REDIS_URL`); unset: each cache is this process's alone. */
  shared?: SharedFinishedStore | undefined;
}): CacheRegistry {
  const caches = new Map<string, { readonly cache: FinishedInstanceCache; readonly unwatch: () => void }>();
  const maxCredentials = options.maxCredentials ?? MAX_CREDENTIALS;
  const { shared } = options;
  return {
    finished(credentialKey) {
      let held = caches.get(credentialKey);
      if (held) {
        // Most recently used last, so the least recently used credential goes first.
        caches.delete(credentialKey);
      } else {
        const cache = createFinishedInstanceCache({
          ...options,
          shared: shared && { store: shared, credentialKey },
        });
        held = { cache, unwatch: shared?.watch(credentialKey, (id) => cache.forgetHere(id)) ?? (() => undefined) };
      }
      caches.set(credentialKey, held);
      if (caches.size > maxCredentials) {
        const oldest = caches.entries().next();
        if (!oldest.done) {
          caches.delete(oldest.value[0]);
          oldest.value[1].unwatch();
        }
      }
      return held.cache;
    },
  };
}

export function createFinishedInstanceCache(options: {
  ttlMs: number;
  now?: () => number;
  maxEntries?: number;
  onLookup?: ((hit: boolean) => void) | undefined;
  /** The shared store and the credential this cache is for. */
  shared?: { readonly store: SharedFinishedStore; readonly credentialKey: string } | undefined;
}): FinishedInstanceCache {
  const shared = options.ttlMs > 0 ? options.shared : undefined;
  const now = options.now ?? Date.now;
  const max = options.maxEntries ?? MAX_ENTRIES_PER_CREDENTIAL;
  const entries = new Map<string, { details: InstanceDetails; expires: number }>();
  /** How many entries each instance id has (of any workflow): most ids another replica forgets are not here. */
  const held = new Map<string, number>();

  /** Counts forgettings; `forgotten` holds each instance's last one, and fetches marked before `floor` are refused. */
  let forgets = 0;
  let floor = 0;
  const forgotten = new Map<string, number>();
  const noteForgotten = (instanceId: string | undefined) => {
    forgets++;
    if (instanceId === undefined) {
      floor = forgets;
      forgotten.clear();
      return;
    }
    forgotten.delete(instanceId);
    forgotten.set(instanceId, forgets);
    if (forgotten.size > MAX_FORGOTTEN) {
      const oldest = forgotten.entries().next();
      if (!oldest.done) {
        forgotten.delete(oldest.value[0]);
        floor = oldest.value[1];
      }
    }
  };
  const forgottenSince = (instanceId: string, since: number) =>
    since < floor || (forgotten.get(instanceId) ?? 0) > since;

  const drop = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    const id = entry.details.id;
    const count = (held.get(id) ?? 1) - 1;
    if (count > 0) held.set(id, count);
    else held.delete(id);
  };

  const lookup = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.expires <= now()) {
      drop(key);
      return undefined;
    }
    return entry;
  };

  const keep = (key: string, details: InstanceDetails) => {
    drop(key);
    entries.set(key, { details, expires: now() + options.ttlMs });
    held.set(details.id, (held.get(details.id) ?? 0) + 1);
    // Map order is insertion order: the first entry is the oldest.
    while (entries.size > max) {
      const oldest = entries.keys().next();
      if (oldest.done) break;
      drop(oldest.value);
    }
  };

  return {
    get(workflowName, instanceId, full) {
      const entry = lookup(instanceKey(workflowName, instanceId));
      const hit = entry !== undefined && !(full && entry.details.simple);
      options.onLookup?.(hit);
      return hit ? entry.details : undefined;
    },
    offer(details, since) {
      const key = instanceKey(details.workflowName, details.id);
      const stale = since !== undefined && forgottenSince(details.id, since);
      if (options.ttlMs <= 0 || !isTerminalStatus(details.status) || stale) {
        drop(key);
        return;
      }
      // Simple details never replace full ones of the same finished run.
      const existing = lookup(key);
      if (existing && details.simple && !existing.details.simple) return;
      keep(key, details);
      shared?.store.put(shared.credentialKey, details, options.ttlMs);
    },
    mark: () => forgets,
    delete(workflowName, instanceId) {
      noteForgotten(instanceId);
      drop(instanceKey(workflowName, instanceId));
      shared?.store.delete(shared.credentialKey, workflowName, instanceId);
    },
    async shared(lookups) {
      if (!shared || lookups.length === 0) return lookups.map(() => undefined);
      const since = forgets;
      const found = await shared.store.getMany(shared.credentialKey, lookups);
      return lookups.map(({ workflowName, instanceId, full }, i) => {
        const details = found[i];
        if (!details || !isTerminalStatus(details.status) || (full && details.simple)) return undefined;
        // Read before a mutation that deleted it: the caller asks upstream instead.
        if (forgottenSince(instanceId, since)) return undefined;
        const key = instanceKey(workflowName, instanceId);
        const existing = lookup(key);
        if (!existing || existing.details.simple) keep(key, details);
        return details;
      });
    },
    forgetHere(instanceId) {
      noteForgotten(instanceId);
      if (instanceId === undefined) {
        entries.clear();
        held.clear();
        return;
      }
      if (!held.has(instanceId)) return;
      for (const [key, entry] of entries) if (entry.details.id === instanceId) drop(key);
    },
  };
}
