import type { InstanceDetails, InstanceStatus, WorkflowsApi } from '../upstream/types.js';

/** One status event: the first one of a stream has `previousStatus` null. */
export interface InstanceStatusEvent {
  readonly workflowName: string;
  readonly instanceId: string;
  readonly status: InstanceStatus;
  readonly previousStatus: InstanceStatus | null;
  readonly at: Date;
  /** Full details fetched by the poll when the subscriber needs them, else null. */
  readonly details: InstanceDetails | null;
}

/**
 * An item of a live stream: a value, or the error that ends the stream (the instance or workflow does
 * not exist). Errors travel as items so that every transport reports them as a GraphQL error payload.
 */
export type LiveItem<T> =
  | {
      readonly value: T;
      readonly error?: undefined;
      /** `performance.now()` when the gateway noticed the state this item carries (see {@link LiveObserver}). */
      readonly noticedAt?: number;
    }
  | { readonly error: Error; readonly value?: undefined; readonly noticedAt?: undefined };

/** A live stream: ends by itself after a terminal status or an error; `return()` unsubscribes. */
export type LiveStream<T> = AsyncIterableIterator<LiveItem<T>>;

/**
 * The live side of the gateway as resolvers see it. Subscription resolvers subscribe through it;
 * mutations tell it what they changed so that subscribers hear of it at once, not at the next poll.
 */
export interface LiveHub {
  /**
   * Publishes state that a mutation has just observed (or, without `details`, asks the watcher of that
   * instance to poll now). A no-op when nobody watches the instance.
   */
  instanceChanged(api: WorkflowsApi, workflowName: string, instanceId: string, details?: InstanceDetails): void;
  /** Tells watchers of a workflow's instance list that it changed (for example after a create). */
  workflowChanged(api: WorkflowsApi, workflowName: string): void;
  /**
   * The current status of an instance, then every status change; ends after a terminal status (its
   * event included). `needsDetails` asks for full details with every event (for selected instance fields).
   * Throws {@link SubscriptionLimitError} when the server holds too many subscriptions.
   */
  watchInstanceStatus(
    api: WorkflowsApi,
    workflowName: string,
    instanceId: string,
    options: { needsDetails: boolean },
  ): LiveStream<InstanceStatusEvent>;
  /** The instance's full details now, then after every change (status, step, attempt); ends after a terminal status. */
  watchInstanceUpdates(api: WorkflowsApi, workflowName: string, instanceId: string): LiveStream<InstanceDetails>;
  /**
   * Every new instance of a workflow and every status change of one, from now on, optionally only those
   * whose new status is in `statuses`. Never ends by itself.
   */
  watchWorkflowInstances(
    api: WorkflowsApi,
    workflowName: string,
    options: { statuses: readonly InstanceStatus[] | null; needsDetails: boolean },
  ): LiveStream<InstanceStatusEvent>;
}

/** The kinds of live stream, one per `LiveHub.watch…` method. */
export type LiveStreamKind = 'instanceStatus' | 'instanceUpdates' | 'workflowInstances';

/**
 * What the live hub reports about its work, for metrics. Injected (`LiveHubDeps.observer`): the hub knows
 * nothing of Prometheus, and without an observer it reports nothing.
 */
export interface LiveObserver {
  /** A poll cycle ended (with or without success; not one cut short by its loop stopping). */
  cycleEnded(durationMs: number): void;
  /**
   * A stream handed an event to its transport: `lagMs` after the gateway noticed the state it carries (a poll
   * read it, or a mutation reported it), or after the subscriber joined when the state was already known then.
   */
  delivered(lagMs: number): void;
}
