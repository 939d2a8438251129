import { isTerminalStatus, type InstanceDetails, type InstanceStatus, type WorkflowsApi } from '../upstream/types.js';
import type { InstanceState, InstanceSubscriber, PollLoop, WorkflowSubscriber } from './poll-loop.js';
import { EventQueue, type EventQueueOptions } from './event-queue.js';
import type { InstanceStatusEvent, LiveItem, LiveObserver, LiveStreamKind } from './types.js';

/**
 * The three kinds of subscriber a poll loop feeds. Each one is its own async iterator (it is the
 * {@link EventQueue}) and keeps only what it needs to decide whether a shared state is news to it: the last
 * status or the last details object it delivered. A subscription is one object: no closure, no options
 * object and, for subscribers in step with each other, no event object of its own (see {@link statusItemOf}).
 */

/** Queued events per instance subscription before coalescing starts. */
const INSTANCE_QUEUE_CAPACITY = 8;
/** Queued events per workflow subscription before coalescing starts (one slot per changed instance). */
const WORKFLOW_QUEUE_CAPACITY = 256;

type StatusItem = LiveItem<InstanceStatusEvent>;
type StatusValueItem = StatusItem & { readonly value: InstanceStatusEvent };

/** Where a stream is registered, so it can take itself out when its consumer leaves. */
export type OpenStreams = Set<{ readonly kind: LiveStreamKind; fail(error: Error): void }>;

/** What every stream of one hub shares: the open streams, and who is told of deliveries. */
export interface StreamHooks {
  readonly open: OpenStreams;
  readonly observer: LiveObserver | undefined;
}

/** Keeps the older `previousStatus`: the consumer never saw the state in between. */
function mergeStatus(older: StatusItem, newer: StatusItem): StatusItem {
  if (older.error || newer.error) return newer.error ? newer : older;
  return {
    value: { ...newer.value, previousStatus: older.value.previousStatus },
    ...(newer.noticedAt === undefined ? {} : { noticedAt: newer.noticedAt }),
  };
}

/** For instance streams: every item is about the same instance. */
const oneKey = (): string => '';

const INSTANCE_STATUS_QUEUE: EventQueueOptions<StatusItem> = {
  capacity: INSTANCE_QUEUE_CAPACITY,
  keyOf: oneKey,
  coalesce: mergeStatus,
};
const INSTANCE_UPDATE_QUEUE: EventQueueOptions<LiveItem<InstanceDetails>> = {
  capacity: INSTANCE_QUEUE_CAPACITY,
  keyOf: oneKey,
  coalesce: (_older, newer) => newer,
};
const WORKFLOW_QUEUE: EventQueueOptions<StatusItem> = {
  capacity: WORKFLOW_QUEUE_CAPACITY,
  keyOf: (item) => item.value?.instanceId ?? '',
  coalesce: mergeStatus,
};

/** Items already made for a state, one per `previousStatus` seen (nearly always just one). */
const itemsByState = new WeakMap<InstanceState, StatusValueItem[]>();

/**
 * The event item for `state` as seen by a subscriber whose last status was `previous`. Made once per
 * state and previous status, then shared: the hundred subscribers of one instance that change together
 * all receive the same (immutable) item, so a change costs one event object, not one per subscriber.
 */
export function statusItemOf(state: InstanceState, previous: InstanceStatus | null): StatusItem {
  let items = itemsByState.get(state);
  if (items === undefined) {
    items = [];
    itemsByState.set(state, items);
  }
  for (const item of items) if (item.value.previousStatus === previous) return item;
  const item: StatusValueItem = {
    value: {
      workflowName: state.workflowName,
      instanceId: state.instanceId,
      status: state.status,
      previousStatus: previous,
      at: state.at,
      details: state.details,
    },
    noticedAt: state.noticedAt,
  };
  items.push(item);
  return item;
}

/** What every live stream does alike: an error item ends it, and leaving takes it out of the open streams and its loop. */
abstract class LiveStreamQueue<T> extends EventQueue<LiveItem<T>> {
  abstract readonly kind: LiveStreamKind;
  /** When the subscriber joined: an event about a state known before then lags from here, not from the state. */
  private readonly subscribedAt: number;

  constructor(
    options: EventQueueOptions<LiveItem<T>>,
    private readonly hooks: StreamHooks,
  ) {
    super(options);
    this.subscribedAt = hooks.observer ? performance.now() : 0;
  }

  fail(error: Error): void {
    this.push({ error });
    this.end();
  }

  protected override closed(): void {
    this.hooks.open.delete(this);
    this.leave();
  }

  protected override taken(item: LiveItem<T>): void {
    const { observer } = this.hooks;
    if (observer && item.noticedAt !== undefined)
      observer.delivered(performance.now() - Math.max(item.noticedAt, this.subscribedAt));
  }

  /** Unregisters from the poll loop. */
  protected abstract leave(): void;
}

export class InstanceStatusStream extends LiveStreamQueue<InstanceStatusEvent> implements InstanceSubscriber {
  readonly kind = 'instanceStatus';
  private lastStatus: InstanceStatus | null = null;

  constructor(
    readonly needsDetails: boolean,
    private readonly loop: PollLoop,
    private readonly instanceId: string,
    hooks: StreamHooks,
  ) {
    super(INSTANCE_STATUS_QUEUE, hooks);
  }

  update(state: InstanceState): void {
    if (state.status === this.lastStatus || (this.needsDetails && state.details === null)) return;
    this.push(statusItemOf(state, this.lastStatus));
    this.lastStatus = state.status;
    if (isTerminalStatus(state.status)) this.end();
  }

  protected leave(): void {
    this.loop.removeInstanceSubscriber(this.instanceId, this);
  }
}

/** The `instanceUpdated` item of each state with details: one per change, shared as {@link statusItemOf}'s are. */
const updateItems = new WeakMap<InstanceState, LiveItem<InstanceDetails>>();

/** `details` is the state's own (not null). */
function updateItemOf(state: InstanceState, details: InstanceDetails): LiveItem<InstanceDetails> {
  let item = updateItems.get(state);
  if (item === undefined) {
    item = { value: details, noticedAt: state.noticedAt };
    updateItems.set(state, item);
  }
  return item;
}

export class InstanceUpdateStream extends LiveStreamQueue<InstanceDetails> implements InstanceSubscriber {
  readonly kind = 'instanceUpdates';
  readonly needsDetails = true;
  private lastDetails: InstanceDetails | undefined;

  constructor(
    private readonly loop: PollLoop,
    private readonly instanceId: string,
    hooks: StreamHooks,
  ) {
    super(INSTANCE_UPDATE_QUEUE, hooks);
  }

  update(state: InstanceState): void {
    // The poll loop shares one details object per change, so identity tells whether this one is news.
    if (state.details === null || state.details === this.lastDetails) return;
    this.lastDetails = state.details;
    this.push(updateItemOf(state, state.details));
    if (isTerminalStatus(state.status)) this.end();
  }

  protected leave(): void {
    this.loop.removeInstanceSubscriber(this.instanceId, this);
  }
}

export class WorkflowInstancesStream extends LiveStreamQueue<InstanceStatusEvent> implements WorkflowSubscriber {
  readonly kind = 'workflowInstances';

  constructor(
    readonly needsDetails: boolean,
    private readonly statuses: ReadonlySet<InstanceStatus> | null,
    private readonly loop: PollLoop,
    hooks: StreamHooks,
  ) {
    super(WORKFLOW_QUEUE, hooks);
  }

  change(state: InstanceState, previous: InstanceStatus | null): void {
    if (this.statuses !== null && !this.statuses.has(state.status)) return;
    this.push(statusItemOf(state, previous));
  }

  protected leave(): void {
    this.loop.removeWorkflowSubscriber(this);
  }
}

/** The loop key: one loop per credential and workflow. */
export function loopKey(api: WorkflowsApi, workflowName: string): string {
  return `${api.credential.key}\n${workflowName}`;
}
