import { isTerminalStatus, type InstanceDetails, type InstanceStatus, type WorkflowsApi } from '../upstream/types.js';
import type { InstanceState, InstanceSubscriber, WorkflowSubscriber } from './poller.js';
import { EventQueue } from './queue.js';
import type { InstanceStatusEvent, LiveItem } from './types.js';

/**
 * The three kinds of subscriber a poll loop feeds. Each one is its own async iterator (through the
 * {@link EventQueue} it holds) and keeps only what it needs to decide whether a shared state is news to it:
 * the last status or the last details object it delivered.
 */

/** Queued events per instance subscription before coalescing starts. */
const INSTANCE_QUEUE_CAPACITY = 8;
/** Queued events per workflow subscription before coalescing starts (one slot per changed instance). */
const WORKFLOW_QUEUE_CAPACITY = 256;

type StatusItem = LiveItem<InstanceStatusEvent>;

/** Keeps the older `previousStatus`: the consumer never saw the state in between. */
function mergeStatus(older: StatusItem, newer: StatusItem): StatusItem {
  if (older.error || newer.error) return newer.error ? newer : older;
  return { value: { ...newer.value, previousStatus: older.value.previousStatus } };
}

const sameKey = (): string => '';

function toEvent(state: InstanceState, previousStatus: InstanceStatus | null): InstanceStatusEvent {
  return {
    workflowName: state.workflowName,
    instanceId: state.instanceId,
    status: state.status,
    previousStatus,
    at: state.at,
    details: state.details,
  };
}

export class StatusStream implements InstanceSubscriber {
  readonly queue: EventQueue<StatusItem>;
  private last: InstanceStatus | null = null;

  constructor(
    readonly needsDetails: boolean,
    onClose: () => void,
  ) {
    this.queue = new EventQueue({ capacity: INSTANCE_QUEUE_CAPACITY, keyOf: sameKey, coalesce: mergeStatus, onClose });
  }

  update(state: InstanceState): void {
    if (state.status === this.last || (this.needsDetails && state.details === null)) return;
    this.queue.push({ value: toEvent(state, this.last) });
    this.last = state.status;
    if (isTerminalStatus(state.status)) this.queue.end();
  }

  fail(error: Error): void {
    this.queue.push({ error });
    this.queue.end();
  }
}

export class UpdateStream implements InstanceSubscriber {
  readonly needsDetails = true;
  readonly queue: EventQueue<LiveItem<InstanceDetails>>;
  private last: InstanceDetails | undefined;

  constructor(onClose: () => void) {
    this.queue = new EventQueue({ capacity: INSTANCE_QUEUE_CAPACITY, keyOf: sameKey, coalesce: (_older, newer) => newer, onClose });
  }

  update(state: InstanceState): void {
    // The poll loop shares one details object per change, so identity tells whether this one is news.
    if (state.details === null || state.details === this.last) return;
    this.last = state.details;
    this.queue.push({ value: state.details });
    if (isTerminalStatus(state.status)) this.queue.end();
  }

  fail(error: Error): void {
    this.queue.push({ error });
    this.queue.end();
  }
}

export class WorkflowStream implements WorkflowSubscriber {
  readonly queue: EventQueue<StatusItem>;

  constructor(
    readonly needsDetails: boolean,
    private readonly statuses: ReadonlySet<InstanceStatus> | null,
    onClose: () => void,
  ) {
    this.queue = new EventQueue({
      capacity: WORKFLOW_QUEUE_CAPACITY,
      keyOf: (item) => item.value?.instanceId ?? '',
      coalesce: mergeStatus,
      onClose,
    });
  }

  change(state: InstanceState, previous: InstanceStatus | null): void {
    if (this.statuses !== null && !this.statuses.has(state.status)) return;
    this.queue.push({ value: toEvent(state, previous) });
  }

  fail(error: Error): void {
    this.queue.push({ error });
    this.queue.end();
  }
}

/** The loop key: one loop per credential and workflow. */
export function loopKey(api: WorkflowsApi, workflowName: string): string {
  return `${api.credential.key}\n${workflowName}`;
}
