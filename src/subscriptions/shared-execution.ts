import { execute, type ExecutionArgs, type IncrementalExecutionResults } from '@graphql-tools/executor';
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

/** The live streams of subscriptions being set up, by operation context: the plugin takes each as its subscribe returns. */
const opened = new WeakMap<ExecutionScope, LiveStream<unknown>>();

/**
 * Called by each subscription field's `subscribe` with the live stream it opened, which it returns to the executor:
 * {@link useSharedSubscriptionExecution} takes the stream from here and shares its events' executions.
 */
export function shareExecution<T>(context: ExecutionScope, stream: LiveStream<T>): LiveStream<T> {
  // Anything else the hub may have been replaced with (a promise of a stream: test/integration/sse-limits.test.ts)
  // goes to the executor as it is, which then executes its events per subscriber.
  if (typeof (stream as Partial<LiveStream<T>>).next !== 'function') return stream;
  opened.set(context, stream as LiveStream<unknown>);
  return stream;
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

/** Executes one event's selection, with the event as root value. */
export type EventExecutor = (args: ExecutionArgs) => PromiseOrValue<ExecutionResult | IncrementalExecutionResults>;

/** The group key (see the top of this file). */
function groupKey(args: ExecutionArgs, scope: ExecutionScope): string {
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
type SharedResults = WeakMap<object, Map<ExecutionGroup, Promise<ExecutionResult>>>;

/**
 * One subscriber's stream of results: it takes the items of its own live stream, and for each one either finds the
 * result its group already has or executes the item's selection itself, with this subscriber's operation.
 *
 * The executor's own subscribe has already set the subscription up (validated it, coerced its variables, called the
 * field's `subscribe`); its mapping of the stream to results is not used: a subscriber that executes calls the
 * executor with the event as root value, and one that finds its group's result holds nothing of the executor's.
 */
class SharedResultStream implements AsyncIterableIterator<ExecutionResult> {
  private ended = false;

  constructor(
    private readonly live: LiveStream<unknown>,
    private readonly args: ExecutionArgs,
    private readonly execute: EventExecutor,
    private readonly group: ExecutionGroup,
    private readonly shared: SharedResults,
    private readonly leave: (group: ExecutionGroup) => void,
    private readonly observer: ExecutionObserver | undefined,
  ) {}

  // Promise chains, not an async function: a subscriber waits in `next` for as long as nothing happens, and a
  // suspended async function keeps a generator and its registers (about 0.25 KB) per subscriber.
  next(): Promise<IteratorResult<ExecutionResult>> {
    // A live stream never rejects a `next()` (src/subscriptions/event-queue.ts): its errors are items.
    return this.live.next().then((step) => {
      if (!step.done) return this.deliver(step.value);
      this.end();
      return { value: undefined, done: true };
    });
  }

  /** The group's result of `item`, once it is made. */
  private deliver(item: LiveItem<unknown>): Promise<IteratorResult<ExecutionResult>> {
    return this.resultOf(item).then(
      (result) => (this.ended ? { value: undefined, done: true } : { value: result, done: false }),
      // An executor that throws (a bug, not a GraphQL error: those are in the result) fails the operations of the
      // group, which then leave their live streams: a rejected `next` is the iterator's end, and nobody calls
      // `return` after it.
      (error: unknown) => this.return().then(() => Promise.reject(error)),
    );
  }

  /** The group's result of `item`, executed now if the group has none. */
  private resultOf(item: LiveItem<unknown>): Promise<ExecutionResult> {
    let byGroup = this.shared.get(item);
    const found = byGroup?.get(this.group);
    if (found !== undefined) return found;
    // Without the operation's signal: the result is the group's, so one subscriber leaving must not cut it short
    // (it is still told to the others: nothing of an operation's context is torn down when it ends), and the
    // executor would add a listener to the signal at every execution, kept for the subscription's life. The
    // executor's subscribe already returns the live stream when the signal aborts.
    const result = Promise.resolve()
      .then(() => this.execute({ ...this.args, rootValue: item, signal: undefined }))
      .then(singleResult);
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
    // The subscriber leaves its poll loop.
    await this.live.return?.();
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

/**
 * An event's result. Incremental delivery (`@defer`, `@stream`) is not in the schema, so validation has refused any
 * document that could make the executor answer in parts.
 */
function singleResult(executed: ExecutionResult | IncrementalExecutionResults): ExecutionResult {
  if ('initialResult' in executed) throw new Error('a subscription event was answered incrementally');
  return executed;
}

export interface SharedExecutionOptions {
  /**
   * Executes an event's selection. Default: graphql-tools' `execute`, the engine yoga runs every operation with, with
   * the event as root value: the specification's ExecuteSubscriptionEvent, as graphql-js' own subscribe does it.
   */
  readonly execute?: EventExecutor;
  /** Told of each execution of an event's selection (not of the results found shared). */
  readonly onExecution?: ExecutionObserver;
}

/**
 * Shares the execution of subscription events between subscribers whose results cannot differ (see the top of this
 * file). Wraps the subscribe function: the executor still validates and sets the subscription up (its refusals and
 * errors are unchanged); each event is executed once per group.
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
          const live = context === undefined ? undefined : opened.get(context);
          if (context === undefined || live === undefined || !isAsyncIterable(result)) return result;
          opened.delete(context);
          // The executor's mapping of `live` (`result`) is left unread: nothing of it is kept.
          return new SharedResultStream(
            live,
            args,
            options.execute ?? execute,
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
