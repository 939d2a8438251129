/**
 * The per-subscription buffer between a shared poll loop and one consumer (a graphql-ws or SSE stream).
 *
 * Bounded: at most `capacity` items wait. When a consumer falls behind, a new item replaces the newest
 * queued item with the same key (merged by `coalesce`), so a slow consumer skips intermediate states but
 * always ends on the latest one; only when every queued item has a different key is the oldest dropped.
 * Memory per subscription therefore stays constant however far the consumer lags.
 */
export interface EventQueueOptions<T> {
  /** Most items kept waiting. @default 16 */
  readonly capacity?: number;
  /** Items with equal keys describe the same thing; a newer one may replace an older one. */
  readonly keyOf: (item: T) => string;
  /** Merges a newer item into the queued one it replaces (for example to keep the older `previousStatus`). */
  readonly coalesce: (older: T, newer: T) => T;
  /** Called once when the consumer stops listening (iterator `return`) or the queue ends. See also `closed()`. */
  readonly onClose?: () => void;
}

const DEFAULT_CAPACITY = 16;

export class EventQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] | undefined;
  private waiter: ((result: IteratorResult<T>) => void) | undefined;
  private state: 'open' | 'ending' | 'closed' = 'open';
  private closeHook: (() => void) | undefined;
  private readonly capacity: number;
  /** Items dropped because the queue was full of other keys; never counts coalesced items. */
  dropped = 0;

  constructor(private readonly options: EventQueueOptions<T>) {
    this.capacity = options.capacity ?? DEFAULT_CAPACITY;
    this.closeHook = options.onClose;
  }

  /** Whether the consumer still listens and no end was requested. */
  get open(): boolean {
    return this.state === 'open';
  }

  /** Items waiting for the consumer. */
  get size(): number {
    return this.items?.length ?? 0;
  }

  push(item: T): void {
    if (this.state !== 'open') return;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = undefined;
      this.taken(item);
      resolve({ value: item, done: false });
      return;
    }
    const items = (this.items ??= []);
    if (items.length < this.capacity) {
      items.push(item);
      return;
    }
    const key = this.options.keyOf(item);
    for (let i = items.length - 1; i >= 0; i--) {
      const queued = items[i] as T;
      if (this.options.keyOf(queued) === key) {
        // Keep the queue ordered: the merged item moves to the end, where the newest state belongs.
        items.splice(i, 1);
        items.push(this.options.coalesce(queued, item));
        return;
      }
    }
    items.shift();
    items.push(item);
    this.dropped++;
  }

  /** Ends the stream after the queued items have been delivered. */
  end(): void {
    if (this.state !== 'open') return;
    this.state = 'ending';
    if (this.waiter) this.finish();
  }

  next(): Promise<IteratorResult<T>> {
    const items = this.items;
    if (items !== undefined && items.length > 0) {
      const value = items.shift() as T;
      if (items.length === 0) this.items = undefined;
      this.taken(value);
      return Promise.resolve({ value, done: false });
    }
    if (this.state !== 'open') {
      this.finish();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.finish();
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private finish(): void {
    const first = this.state !== 'closed';
    this.state = 'closed';
    this.items = undefined;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.({ value: undefined, done: true });
    const hook = this.closeHook;
    this.closeHook = undefined;
    hook?.();
    if (first) this.closed();
  }

  /**
   * Called once when the consumer stops listening or the queue ends, after `onClose`. Subclasses override
   * it instead of passing an `onClose` closure, so that a subscription costs no closure and no options
   * object of its own (the options can then be one shared constant).
   */
  protected closed(): void {}

  /** Called as each item is handed to the consumer (a waiting `next()`, or one that finds it queued). */
  protected taken(_item: T): void {}
}
