/**
 * Which shared finished-instance keys (src/redis/shared-finished.ts) Redis holds, as far as this replica heard: a
 * read asks Redis only for those, so that a read of a running instance, or of one no replica stored, costs no
 * round trip before its upstream call. A key missing here (an announcement lost, or dropped for room) costs an
 * upstream call, never a wrong answer; a key listed here that Redis no longer holds costs a round trip that misses.
 */

/** Keys kept; beyond them, the one announced longest ago goes. */
export const MAX_INDEXED_KEYS = 20_000;

export interface FinishedIndex {
  /** Records that Redis holds `key` (an instance's details of credential `credentialId`) for `ttlMs` more. */
  add(key: string, credentialId: string, instanceId: string, ttlMs: number): void;
  /** Whether Redis holds `key`, as far as this replica heard, and it has not expired. */
  has(key: string): boolean;
  /** Forgets the keys of one instance of a credential (its details were deleted). */
  remove(credentialId: string, instanceId: string): void;
  /** Forgets every key (news of deletes may have been lost). */
  clear(): void;
}

export function createFinishedIndex(options: { now?: () => number; maxKeys?: number } = {}): FinishedIndex {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? MAX_INDEXED_KEYS;
  /** By key, in announcement order (Map order is insertion order: the first entry is the oldest). */
  const entries = new Map<string, { readonly expires: number; readonly owner: string }>();
  /** Keys by `<credential id> <instance id>`, for deletes, which name an instance of any workflow. */
  const byInstance = new Map<string, Set<string>>();

  const drop = (key: string) => {
    const entry = entries.get(key);
    if (!entry) return;
    entries.delete(key);
    const keys = byInstance.get(entry.owner);
    keys?.delete(key);
    if (keys?.size === 0) byInstance.delete(entry.owner);
  };

  return {
    add(key, credentialId, instanceId, ttlMs) {
      if (ttlMs <= 0) return;
      drop(key);
      const owner = `${credentialId} ${instanceId}`;
      entries.set(key, { expires: now() + ttlMs, owner });
      let keys = byInstance.get(owner);
      if (!keys) byInstance.set(owner, (keys = new Set()));
      keys.add(key);
      while (entries.size > maxKeys) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        drop(oldest.value);
      }
    },
    has(key) {
      const entry = entries.get(key);
      if (!entry) return false;
      if (entry.expires > now()) return true;
      drop(key);
      return false;
    },
    remove(credentialId, instanceId) {
      for (const key of [...(byInstance.get(`${credentialId} ${instanceId}`) ?? [])]) drop(key);
    },
    clear() {
      entries.clear();
      byInstance.clear();
    },
  };
}
