/**
 * Shares one execution between concurrent identical calls. Each caller keeps its own AbortSignal: one
 * caller giving up does not cancel the work for the others; the shared work is cancelled only when every
 * caller has given up. Results are shared objects, so callers must treat them as immutable.
 */
export class InFlight<T> {
  private readonly entries = new Map<
    string,
    { promise: Promise<T>; controller: AbortController | undefined; waiters: number }
  >();

  /**
   * Calls in flight now are joined by no later call: each later one starts afresh. Those waiting keep their
   * answer. (After a write, a read must not join one that may have been answered before the write.)
   */
  detachAll(): void {
    this.entries.clear();
  }

  /**
   * Runs `start` unless a call with the same key is in flight; `onJoin` fires when one is joined. `start`
   * gets no signal when the caller that starts the work has none: that caller never gives up, so the
   * work can never be cancelled.
   */
  run(
    key: string,
    signal: AbortSignal | undefined,
    start: (signal: AbortSignal | undefined) => Promise<T>,
    onJoin?: () => void,
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    let entry = this.entries.get(key);
    if (entry) {
      onJoin?.();
    } else {
      const controller = signal ? new AbortController() : undefined;
      const promise = start(controller?.signal);
      const created = { promise, controller, waiters: 0 };
      entry = created;
      this.entries.set(key, created);
      const forget = () => {
        if (this.entries.get(key) === created) this.entries.delete(key);
      };
      promise.then(forget, forget);
    }
    const shared = entry;
    shared.waiters += 1;
    if (!signal) return shared.promise;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        shared.waiters -= 1;
        // The last interested caller is gone: stop the request and let a new call start afresh.
        if (shared.waiters === 0) {
          if (this.entries.get(key) === shared) this.entries.delete(key);
          shared.controller?.abort(signal.reason);
        }
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      shared.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error as Error);
        },
      );
    });
  }
}
