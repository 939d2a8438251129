import { isTerminalStatus, type InstanceDetails } from '../upstream/types.js';

/**
 * Details of finished instances (complete, errored, terminated), kept for a short time across requests:
 * such an instance only changes again through a restart, and our own restart mutation invalidates it.
 * One cache per credential, so nothing crosses from one account or token to another.
 */
export interface FinishedInstanceCache {
  /** Cached details; with `full`, only details that include the step log. */
  get(workflowName: string, instanceId: string, full: boolean): InstanceDetails | undefined;
  /** Stores details when the instance is finished; anything else is ignored (and forgets older details). */
  offer(details: InstanceDetails): void;
  delete(workflowName: string, instanceId: string): void;
  /**
   * Details other replicas fetched (with `REDIS_URL`), for a lookup {@link get} missed: kept here too once found.
   * Resolves undefined without a shared store, on a miss, and when the store cannot be reached (never rejects).
   */
  shared(workflowName: string, instanceId: string, full: boolean): Promise<InstanceDetails | undefined>;
}

/**
 * Finished instances' details shared by replicas (src/redis/shared-finished.ts), per credential key. Its reads
 * resolve undefined rather than reject when the store is unreachable: the caller then asks upstream.
 */
export interface SharedFinishedStore {
  get(credentialKey: string, workflowName: string, instanceId: string): Promise<InstanceDetails | undefined>;
  /** Keeps finished details for `ttlMs`; simple details never replace full ones. */
  put(credentialKey: string, details: InstanceDetails, ttlMs: number): void;
  delete(credentialKey: string, workflowName: string, instanceId: string): void;
}

/** Per-credential registry of {@link FinishedInstanceCache}s, created once per app. */
export interface CacheRegistry {
  finished(credentialKey: string): FinishedInstanceCache;
}

const MAX_ENTRIES_PER_CREDENTIAL = 5000;
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
  const caches = new Map<string, FinishedInstanceCache>();
  const maxCredentials = options.maxCredentials ?? MAX_CREDENTIALS;
  return {
    finished(credentialKey) {
      let cache = caches.get(credentialKey);
      if (cache) {
        // Most recently used last, so the least recently used credential goes first.
        caches.delete(credentialKey);
      } else {
        cache = createFinishedInstanceCache({
          ...options,
          shared: options.shared && { store: options.shared, credentialKey },
        });
      }
      caches.set(credentialKey, cache);
      if (caches.size > maxCredentials) {
        const oldest = caches.keys().next();
        if (!oldest.done) caches.delete(oldest.value);
      }
      return cache;
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

  const lookup = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.expires <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  const keep = (key: string, details: InstanceDetails) => {
    entries.delete(key);
    entries.set(key, { details, expires: now() + options.ttlMs });
    // Map order is insertion order: the first entry is the oldest.
    while (entries.size > max) {
      const oldest = entries.keys().next();
      if (oldest.done) break;
      entries.delete(oldest.value);
    }
  };

  return {
    get(workflowName, instanceId, full) {
      const entry = lookup(instanceKey(workflowName, instanceId));
      const hit = entry !== undefined && !(full && entry.details.simple);
      options.onLookup?.(hit);
      return hit ? entry.details : undefined;
    },
    offer(details) {
      const key = instanceKey(details.workflowName, details.id);
      if (options.ttlMs <= 0 || !isTerminalStatus(details.status)) {
        entries.delete(key);
        return;
      }
      // Simple details never replace full ones of the same finished run.
      const existing = lookup(key);
      if (existing && details.simple && !existing.details.simple) return;
      keep(key, details);
      shared?.store.put(shared.credentialKey, details, options.ttlMs);
    },
    delete(workflowName, instanceId) {
      entries.delete(instanceKey(workflowName, instanceId));
      shared?.store.delete(shared.credentialKey, workflowName, instanceId);
    },
    async shared(workflowName, instanceId, full) {
      if (!shared) return undefined;
      const details = await shared.store.get(shared.credentialKey, workflowName, instanceId);
      if (!details || !isTerminalStatus(details.status) || (full && details.simple)) return undefined;
      const key = instanceKey(workflowName, instanceId);
      const existing = lookup(key);
      if (!existing || existing.details.simple) keep(key, details);
      return details;
    },
  };
}
