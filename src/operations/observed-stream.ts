import type { ExecutionResult } from 'graphql';

/** What an {@link ObservedStream} tells about its operation's record. */
export interface StreamObserver<R> {
  /** The stream gave an event (a result, with its errors). */
  event(record: R, result: ExecutionResult): void;
  /** The stream ended: it finished, or its consumer stopped it (`return`). Told once. */
  ended(record: R): void;
  /** The stream failed: its `next` rejected with `error` (then `ended` is not told). */
  failed(record: R, error: unknown): void;
}

/**
 * A subscription's event stream that tells an observer of each event, its end and its failure: one object with
 * shared methods. Envelop's `onNext`, `onEnd` and `onSubscribeError` hooks each make it wrap the stream in an
 * iterator of closures (@envelop/core's orchestrator: mapAsyncIterator, finalAsyncIterator, errorAsyncIterator) that
 * live as long as the subscription (benchmark S4's memory per subscription, issue 17; yoga's error masking still
 * adds its own two). The order is theirs: events as they are handed on, the end when the stream is done or
 * returned, a failure instead of an end. The stream is observed where the lifecycle's hook runs: a later plugin
 * that replaces it must forward `return()`, as envelop's wrappers do, or the end is never told.
 */
export class ObservedStream<T extends ExecutionResult, R> implements AsyncIterableIterator<T> {
  private iterator: AsyncIterator<T> | undefined;
  private over = false;

  constructor(
    private readonly source: AsyncIterable<T>,
    private readonly record: R,
    private readonly observer: StreamObserver<R>,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  // Promise chains, not an async function: a subscription waits in `next` for as long as nothing happens, and a
  // suspended async function keeps a generator and its registers (about 0.25 KB) per subscription.
  next(): Promise<IteratorResult<T>> {
    let pending: Promise<IteratorResult<T>>;
    try {
      pending = this.sourceIterator().next();
    } catch (error) {
      return Promise.reject(this.failed(error));
    }
    return pending.then(
      (step) => {
        if (step.done) this.end();
        else this.observer.event(this.record, step.value);
        return step;
      },
      (error: unknown) => {
        throw this.failed(error);
      },
    );
  }

  /** Ends the stream as failed with `error`, and returns it to be thrown on. */
  private failed(error: unknown): unknown {
    this.over = true;
    this.observer.failed(this.record, error);
    return error;
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    const returned = this.sourceIterator().return?.(value);
    this.end();
    return (await returned) ?? { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<T>> {
    const iterator = this.sourceIterator();
    if (iterator.throw) return iterator.throw(error);
    throw error;
  }

  private sourceIterator(): AsyncIterator<T> {
    return (this.iterator ??= this.source[Symbol.asyncIterator]());
  }

  private end(): void {
    if (this.over) return;
    this.over = true;
    this.observer.ended(this.record);
  }
}
