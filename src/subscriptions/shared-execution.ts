import { isAsyncIterable, isPromise, type Plugin, type PromiseOrValue } from 'graphql-yoga';
import type { DocumentNode, ExecutionResult } from 'graphql';
import type { Principal } from '../auth/principal.js';
import type { LiveItem, LiveStream } from './types.js';

/**
 * One execution per subscription event and group of subscribers, whose result every subscriber of the group receives.
 *
 * A subscription event is the execution of the operation's selection with the event as root value (graphql-js'
 * MapSourceToResponseEvent). The live streams share their event items: every subscriber of an instance that sees the
 * same change with the same previous status holds the same item object (src/subscriptions/live-streams.ts). Two
 * subscribers whose executions cannot differ for one item get one execution: the group key below holds everything
 * an execution reads besides the item, and the executor runs it once, for the first of them to take the item.
 *
 * Each subscriber still has its own queue and takes its items at its own pace (src/subscriptions/event-queue.ts), so
 * order and backpressure stay per subscriber: a slow one finds the result of an item it takes late already made, and
 * delays nobody. A result lives as long as its item (a WeakMap), that is while a queue holds it or it is the
 * instance's current state. The hooks of other plugins that see each event (error masking, the operation lifecycle,
 * the transports' `extensions.http` removal) still run per subscriber, on the shared result, which none of them
 * changes in place: each builds a new result when it changes one.
 *
 * What an execution reads besides the item, hence the group key:
 * - the document and the operation in it, and the variables (canonical JSON);
 * - the credential: every upstream call a field makes uses it, and every cache is partitioned by it;
 * - the principal's authorization (scopes, workflow allowlist): every resolver that reads data checks it
 *   (src/schema/authorization.ts), so it decides which fields answer and which errors appear.
 * Not in the key, on purpose: the principal's id (no resolver of the event's selection reads it; it names the caller
 * in logs and the audit of mutations only) and the subscriber's per-operation loaders. A field the event does not
 * carry (a workflow's record, a step's output) is read through the loaders of the subscriber that executes, once for
 * the group, and its upstream call counts against that subscriber's share of the budget.
 */

/** What the group key reads from an operation's context (src/context.ts's `Context` has it). */
export interface ExecutionScope {
  readonly api: { readonly credential: { readonly key: string } };
  readonly principal: Pick<Principal, 'scopes' | 'workflows'>;
}

/** Told of each execution of a subscription event (metrics: `wfgql_live_executions_total`). */
export type ExecutionObserver = () => void;

/**
 * The source the executor maps to results, in front of a live stream. Without the plugin it is the live stream. With
 * it, the plugin takes the live stream's items itself, and hands one to the executor when it needs it executed.
 */
class ExecutorFeed<T> implements LiveStream<T> {
  private handed: LiveItem<T> | undefined;

  constructor(readonly live: LiveStream<T>) {}

  /** The item the executor's next pull returns. */
  hand(item: LiveItem<T>): void {
    this.handed = item;
  }

  next(): Promise<IteratorResult<LiveItem<T>>> {
    const item = this.handed;
    if (item === undefined) return this.live.next();
    this.handed = undefined;
    return Promise.resolve({ value: item, done: false });
  }

  return(): Promise<IteratorResult<LiveItem<T>>> {
    return this.live.return ? this.live.return() : Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<LiveItem<T>>> {
    return this.live.throw
      ? this.live.throw(error)
      : Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** The feeds of subscriptions being set up, by operation context: the plugin takes each as its subscribe returns. */
const feeds = new WeakMap<ExecutionScope, ExecutorFeed<unknown>>();

/**
 * Called by each subscription field's `subscribe` with the live stream it opened: returns what the field gives the
 * executor, so that {@link useSharedSubscriptionExecution} can share the stream's executions.
 */
export function shareExecution<T>(context: ExecutionScope, stream: LiveStream<T>): LiveStream<T> {
  // Anything else the hub may have been replaced with (a promise of a stream: test/integration/sse-limits.test.ts)
  // goes to the executor as it is, which then executes its events per subscriber.
  if (typeof (stream as Partial<LiveStream<T>>).next !== 'function') return stream;
  const feed = new ExecutorFeed(stream);
  feeds.set(context, feed as ExecutorFeed<unknown>);
  return feed;
}

/** Subscribers whose executions cannot differ; counted, so that the registry forgets a group nobody is in. */
class ExecutionGroup {
  members = 0;
  constructor(readonly key: string) {}
}

/** Object keys sorted at every depth: variables that differ only in key order are the same variables. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(inner).sort()) sorted[key] = (inner as Record<string, unknown>)[key];
    return sorted;
  });
}

/** Documents without their text (not parsed from a source), told apart by identity. */
const unsourcedDocuments = new WeakMap<DocumentNode, number>();
let unsourcedCount = 0;

function documentKey(document: DocumentNode): string {
  const text = document.loc?.source.body;
  if (text !== undefined) return `text:${text}`;
  let id = unsourcedDocuments.get(document);
  if (id === undefined) {
    id = ++unsourcedCount;
    unsourcedDocuments.set(document, id);
  }
  return `object:${id}`;
}

interface SubscribeArgs {
  readonly document: DocumentNode;
  readonly operationName?: string | null | undefined;
  readonly variableValues?: unknown;
  readonly contextValue?: unknown;
  readonly signal?: AbortSignal | undefined;
}

/** The group key (see the top of this file). */
function groupKey(args: SubscribeArgs, scope: ExecutionScope): string {
  return canonicalJson([
    documentKey(args.document),
    args.operationName ?? null,
    args.variableValues ?? null,
    scope.api.credential.key,
    [...scope.principal.scopes].sort(),
    scope.principal.workflows,
  ]);
}

/** Results by item and group: an item no queue holds any more takes its results with it. */
type SharedResults = WeakMap<object, Map<ExecutionGroup, Promise<ExecutionResult | undefined>>>;

/**
 * One subscriber's stream of results: it takes the items of its own live stream, and for each one either finds the
 * result its group already has or has the executor make it, with this subscriber's operation.
 */
class SharedResultStream implements AsyncIterableIterator<ExecutionResult> {
  private ended = false;

  constructor(
    private readonly feed: ExecutorFeed<unknown>,
    /** The executor's own results of the feed: pulled only to execute an item handed to the feed. */
    private readonly executed: AsyncIterator<ExecutionResult>,
    private readonly group: ExecutionGroup,
    private readonly shared: SharedResults,
    private readonly leave: (group: ExecutionGroup) => void,
    private readonly observer: ExecutionObserver | undefined,
  ) {}

  // Promise chains, not an async function: a subscriber waits in `next` for as long as nothing happens, and a
  // suspended async function keeps a generator and its registers (about 0.25 KB) per subscriber.
  next(): Promise<IteratorResult<ExecutionResult>> {
    // A live stream never rejects a `next()` (src/subscriptions/event-queue.ts): its errors are items.
    return this.feed.live.next().then((step) => {
      if (!step.done) return this.deliver(step.value);
      this.end();
      return { value: undefined, done: true };
    });
  }

  /** The group's result of `item`, once it is made. */
  private deliver(item: LiveItem<unknown>): Promise<IteratorResult<ExecutionResult>> {
    const pending = this.resultOf(item);
    return pending.then((result) => {
      if (result !== undefined) return { value: result, done: false };
      if (this.ended) return { value: undefined, done: true };
      // The subscriber that was executing the item left before its result: this one executes it.
      const byGroup = this.shared.get(item);
      if (byGroup?.get(this.group) === pending) byGroup.delete(this.group);
      return this.deliver(item);
    });
  }

  /** The group's result of `item`, executed now if the group has none; undefined if its executor left first. */
  private resultOf(item: LiveItem<unknown>): Promise<ExecutionResult | undefined> {
    let byGroup = this.shared.get(item);
    const found = byGroup?.get(this.group);
    if (found !== undefined) return found;
    this.feed.hand(item);
    // The executor's results end when this subscriber leaves, also while an item is being executed: then its
    // result is never told, and undefined sends the group's other subscribers to execute the item themselves.
    const result = this.executed.next().then((executed) => (executed.done ? undefined : executed.value));
    if (byGroup === undefined) {
      byGroup = new Map();
      this.shared.set(item, byGroup);
    }
    byGroup.set(this.group, result);
    this.observer?.();
    return result;
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.end();
    // The executor's results return the feed, hence the live stream: the subscriber leaves its poll loop.
    await Promise.all([this.executed.return?.(), this.feed.return()]);
    return { value: undefined, done: true };
  }

  async throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.return();
    throw error instanceof Error ? error : new Error(String(error));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.leave(this.group);
  }
}

export interface SharedExecutionOptions {
  /** Told of each execution of an event's selection (not of the results found shared). */
  readonly onExecution?: ExecutionObserver;
}

/**
 * Shares the execution of subscription events between subscribers whose results cannot differ (see the top of this
 * file). Wraps the subscribe function: the executor still validates and sets the subscription up (its refusals and
 * errors are unchanged), and still executes each event, only once per group.
 */
export function useSharedSubscriptionExecution(options: SharedExecutionOptions = {}): Plugin {
  const groups = new Map<string, ExecutionGroup>();
  const shared: SharedResults = new WeakMap();
  const join = (key: string): ExecutionGroup => {
    let group = groups.get(key);
    if (group === undefined) {
      group = new ExecutionGroup(key);
      groups.set(key, group);
    }
    group.members++;
    return group;
  };
  const leave = (group: ExecutionGroup): void => {
    group.members--;
    if (group.members === 0 && groups.get(group.key) === group) groups.delete(group.key);
  };

  return {
    onSubscribe({ subscribeFn, setSubscribeFn }) {
      setSubscribeFn((args) => {
        const settle = (result: unknown): unknown => {
          const context = args.contextValue as ExecutionScope | undefined;
          const feed = context === undefined ? undefined : feeds.get(context);
          if (context === undefined || feed === undefined || !isAsyncIterable(result)) return result;
          feeds.delete(context);
          const executed = (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
          return new SharedResultStream(
            feed,
            executed,
            join(groupKey(args, context)),
            shared,
            leave,
            options.onExecution,
          );
        };
        const result = subscribeFn(args) as PromiseOrValue<unknown>;
        return (isPromise(result) ? result.then(settle) : settle(result)) as ReturnType<typeof subscribeFn>;
      });
    },
  };
}
