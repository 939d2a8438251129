import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { AbortedError, NotFoundError, RateLimitedError, UpstreamError } from '../upstream/errors.js';
import {
  isTerminalStatus,
  type CallOptions,
  type InstanceDetails,
  type InstanceStatus,
  type InstanceSummary,
  type WorkflowsApi,
} from '../upstream/types.js';
import { fingerprintOf } from './fingerprint.js';
import type { Pacer } from './pacer.js';

/** What a watched instance looks like now, shared by every subscriber of it (never copied per subscriber). */
export interface InstanceState {
  readonly workflowName: string;
  readonly instanceId: string;
  readonly status: InstanceStatus;
  /** When the status was reached: the list's `modified_on`, the end time of a finished instance, else when it was seen. */
  readonly at: Date;
  /** Full details (with steps) when a subscriber needs them; null when only the status is known. */
  readonly details: InstanceDetails | null;
}

export interface InstanceSubscriber {
  /** Whether this subscriber needs full details with each state, not just the status. */
  readonly needsDetails: boolean;
  /** A new state (or the current one, right after joining). */
  update(state: InstanceState): void;
  /** The instance cannot be watched (it does not exist); the subscriber should end. */
  fail(error: UpstreamError): void;
}

export interface WorkflowSubscriber {
  readonly needsDetails: boolean;
  /** A new instance (`previous` null) or a status change of an existing one. */
  change(state: InstanceState, previous: InstanceStatus | null): void;
  fail(error: UpstreamError): void;
}

export interface WatchStats {
  readonly instances: number;
  readonly cycles: number;
  readonly requests: number;
}

/** Most instances one list page returns. */
const LIST_PAGE_SIZE = 100;
/** Most list pages one cycle reads for `workflowInstancesChanged` (the 2,000 most recent instances). */
const MAX_LIST_PAGES = 20;
/** Longest back-off after repeated failures. */
const MAX_BACKOFF_MS = 30_000;

/** Slower polling for statuses that change rarely or only through a mutation (which publishes at once). */
const INTERVAL_FACTOR: Readonly<Record<InstanceStatus, number>> = {
  running: 1,
  waitingForPause: 1,
  rollingBack: 1,
  queued: 2,
  waiting: 3,
  paused: 5,
  complete: Infinity,
  errored: Infinity,
  terminated: Infinity,
};

interface Entry {
  readonly id: string;
  readonly subscribers: Set<InstanceSubscriber>;
  detailsWanted: number;
  state: InstanceState | undefined;
  /** `modified_on` of the last list row seen, to tell whether anything changed. */
  modifiedOn: number | undefined;
  fingerprint: string | undefined;
  /** Poll even if terminal or unchanged: a mutation said it changed. */
  stale: boolean;
}

interface Known {
  status: InstanceStatus;
  modifiedOn: number;
}

export interface WatchDeps {
  readonly api: WorkflowsApi;
  readonly workflowName: string;
  readonly config: Pick<Config, 'pollIntervalMs'>;
  readonly pacer: Pacer;
  readonly logger: Logger;
  /** Called once the last subscriber has left and the loop has stopped. */
  readonly onIdle: () => void;
}

/**
 * The one poll loop of one (credential, workflow): every subscriber of any instance of the workflow, and
 * every subscriber of the workflow's instance list, shares it.
 *
 * Each cycle reads what the subscribers need at the least cost: a single watched instance is read
 * directly; several (or a list subscriber) are read from the list endpoint, 100 per page, and only the
 * instances whose `modified_on` changed and whose subscribers need more than the status are then read in
 * full. Instances not found on the pages read are read directly. All calls use background priority and
 * the loop's AbortSignal; the interval adapts to the statuses watched, is stretched by the
 * credential's {@link Pacer}, and runs from the start of one cycle to the start of the next (fixed rate,
 * so the time a cycle takes does not add to the delay before a change is noticed). Failures back off and retry; only "not found" ends a subscription.
 */
export class Watch {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<WorkflowSubscriber>();
  private listenerDetails = 0;
  /** Last status of each instance seen on the list, for list subscribers; undefined until the baseline scan. */
  private known: Map<string, Known> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private controller: AbortController | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private failures = 0;
  private cycles = 0;
  private requests = 0;
  private lastCost = 1;
  /** `performance.now()` when the last cycle started: the next one is due an interval after it. */
  private startedAt: number | undefined;

  constructor(private readonly deps: WatchDeps) {}

  get idle(): boolean {
    return this.entries.size === 0 && this.listeners.size === 0;
  }

  stats(): WatchStats {
    return { instances: this.entries.size, cycles: this.cycles, requests: this.requests };
  }

  addInstanceSubscriber(instanceId: string, subscriber: InstanceSubscriber): void {
    let entry = this.entries.get(instanceId);
    if (!entry) {
      entry = {
        id: instanceId,
        subscribers: new Set(),
        detailsWanted: 0,
        state: undefined,
        modifiedOn: undefined,
        fingerprint: undefined,
        stale: false,
      };
      this.entries.set(instanceId, entry);
    }
    entry.subscribers.add(subscriber);
    if (subscriber.needsDetails) entry.detailsWanted++;
    const state = entry.state;
    if (state && (!subscriber.needsDetails || state.details !== null)) {
      subscriber.update(state);
      this.ensureScheduled();
    } else if (!this.running) {
      // A cycle in flight serves this subscriber too; `unserved()` starts another if it did not.
      this.kick();
    }
  }

  removeInstanceSubscriber(instanceId: string, subscriber: InstanceSubscriber): void {
    const entry = this.entries.get(instanceId);
    if (!entry || !entry.subscribers.delete(subscriber)) return;
    if (subscriber.needsDetails) entry.detailsWanted--;
    if (entry.subscribers.size === 0) this.entries.delete(instanceId);
    this.stopIfIdle();
  }

  addWorkflowSubscriber(subscriber: WorkflowSubscriber): void {
    this.listeners.add(subscriber);
    if (subscriber.needsDetails) this.listenerDetails++;
    if (this.known === undefined && !this.running) this.kick();
    else this.ensureScheduled();
  }

  removeWorkflowSubscriber(subscriber: WorkflowSubscriber): void {
    if (!this.listeners.delete(subscriber)) return;
    if (subscriber.needsDetails) this.listenerDetails--;
    // Without list subscribers the per-instance status map is dead weight.
    if (this.listeners.size === 0) this.known = undefined;
    this.stopIfIdle();
  }

  /** A mutation observed `details`: publish them now. */
  publishDetails(details: InstanceDetails): void {
    if (this.stopped) return;
    const entry = this.entries.get(details.id);
    if (entry) this.applyDetails(entry, details, new Date());
    if (this.known) {
      const known = this.known.get(details.id);
      const previous = known?.status ?? null;
      if (previous !== details.status) {
        this.known.set(details.id, { status: details.status, modifiedOn: known?.modifiedOn ?? 0 });
        this.notifyListeners(
          {
            ...this.stateOf(details.id, details.status, timeOf(details, new Date())),
            details: details.simple ? null : details,
          },
          previous,
        );
      }
    }
    this.ensureScheduled();
  }

  /** A mutation changed an instance (or created some) without knowing the result: poll now. */
  refresh(instanceId?: string): void {
    if (this.stopped) return;
    if (instanceId !== undefined) {
      const entry = this.entries.get(instanceId);
      if (entry) entry.stale = true;
      else if (this.listeners.size === 0) return;
    } else if (this.listeners.size === 0) {
      return;
    }
    this.kick();
  }

  /** Stops the loop for good: no timer, no request in flight. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.controller?.abort();
    this.controller = undefined;
    this.deps.pacer.remove(this);
    this.deps.onIdle();
  }

  /** Starts a cycle as soon as possible; one already running is followed by another. */
  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), 0);
  }

  private ensureScheduled(): void {
    if (this.stopped || this.running || this.timer !== undefined) return;
    this.schedule();
  }

  private stopIfIdle(): void {
    if (this.idle) this.stop();
  }

  private schedule(delayOverride?: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const preferred = this.preferredInterval();
    if (preferred === Infinity && delayOverride === undefined) {
      // Everything watched has finished: nothing to poll until a mutation or a new subscriber says so.
      this.deps.pacer.setDemand(this, 0);
      return;
    }
    let delay: number;
    if (delayOverride !== undefined) {
      delay = delayOverride;
    } else {
      this.deps.pacer.setDemand(this, this.lastCost / (preferred / 1000));
      const elapsed = this.startedAt === undefined ? 0 : performance.now() - this.startedAt;
      delay = this.deps.pacer.delayFor(preferred, this.lastCost, elapsed);
    }
    this.timer = setTimeout(() => void this.run(), delay);
  }

  /** The base interval scaled by the most urgent status watched; Infinity when nothing needs polling. */
  private preferredInterval(): number {
    let factor = this.listeners.size > 0 ? 1 : Infinity;
    for (const entry of this.entries.values()) {
      if (entry.stale || entry.state === undefined) return this.deps.config.pollIntervalMs;
      factor = Math.min(factor, INTERVAL_FACTOR[entry.state.status]);
    }
    return factor * this.deps.config.pollIntervalMs;
  }

  private async run(): Promise<void> {
    this.timer = undefined;
    if (this.stopped || this.running) return;
    this.running = true;
    this.again = false;
    this.startedAt = performance.now();
    const controller = new AbortController();
    this.controller = controller;
    let retryAfter: number | undefined;
    try {
      this.lastCost = Math.max(1, await this.cycle(controller.signal));
      this.failures = 0;
    } catch (error) {
      if (controller.signal.aborted || error instanceof AbortedError) return;
      if (error instanceof NotFoundError && error.resource === 'workflow') this.failEverything(error);
      else retryAfter = this.onFailure(error);
    } finally {
      this.running = false;
      if (this.controller === controller) this.controller = undefined;
    }
    if (this.stopped) return;
    if (this.idle) {
      this.stop();
      return;
    }
    if (retryAfter !== undefined) this.schedule(retryAfter);
    else if (this.again || this.unserved()) this.schedule(0);
    else this.schedule();
  }

  /** Subscribers that joined while a cycle was running may still lack their first state. */
  private unserved(): boolean {
    for (const entry of this.entries.values()) {
      if (entry.stale || entry.state === undefined) return true;
      if (entry.detailsWanted > 0 && entry.state.details === null && !isTerminalStatus(entry.state.status)) return true;
    }
    return this.listeners.size > 0 && this.known === undefined;
  }

  /** Decides how long to wait after a failed cycle; subscribers are kept unless the thing is gone. */
  private onFailure(error: unknown): number {
    this.failures++;
    const base = this.deps.config.pollIntervalMs;
    if (error instanceof RateLimitedError) {
      this.deps.logger.debug(
        `poll of ${this.deps.workflowName} rate limited (${error.source}); retrying in ${error.retryAfterMs ?? base} ms`,
      );
      return Math.max(error.retryAfterMs ?? base, base);
    }
    this.deps.logger.warn(
      `poll of workflow ${this.deps.workflowName} failed; retrying`,
      error instanceof UpstreamError ? error.toJSON() : error,
    );
    return Math.min(base * 2 ** Math.min(this.failures, 10), MAX_BACKOFF_MS);
  }

  /** One poll cycle. Returns the number of upstream requests it made. */
  private async cycle(signal: AbortSignal): Promise<number> {
    this.cycles++;
    const options: CallOptions = { priority: 'background', signal };
    let cost = 0;
    const count = () => {
      cost++;
      this.requests++;
    };
    const active: Entry[] = [];
    for (const entry of this.entries.values()) {
      if (entry.stale || entry.state === undefined || !isTerminalStatus(entry.state.status)) active.push(entry);
    }
    const unfound = new Map(active.map((entry) => [entry.id, entry]));
    const needDetails = new Set<Entry>();
    const listChanges: { summary: InstanceSummary; previous: InstanceStatus | null }[] = [];

    if (this.listeners.size > 0 || active.length > 1) {
      const observed = new Map<string, Known>();
      const maxPages = this.listeners.size > 0 ? MAX_LIST_PAGES : Math.ceil(active.length / LIST_PAGE_SIZE) + 1;
      for (let page = 1; page <= maxPages; page++) {
        count();
        const result = await this.deps.api.listInstances(
          this.deps.workflowName,
          { page, perPage: LIST_PAGE_SIZE },
          options,
        );
        for (const summary of result.items) {
          const entry = unfound.get(summary.id);
          if (entry) {
            unfound.delete(summary.id);
            if (this.applySummary(entry, summary)) needDetails.add(entry);
          }
          if (this.listeners.size > 0)
            observed.set(summary.id, { status: summary.status, modifiedOn: summary.modifiedOn.getTime() });
          if (this.known) {
            const known = this.known.get(summary.id);
            if (!known || known.status !== summary.status)
              listChanges.push({ summary, previous: known?.status ?? null });
          }
        }
        const last =
          result.items.length < LIST_PAGE_SIZE || (result.info.totalPages !== null && page >= result.info.totalPages);
        // Past this point reading the few missing instances directly is cheaper than another page.
        if (last || (this.listeners.size === 0 && unfound.size <= 1)) break;
      }
      if (this.listeners.size > 0) this.updateKnown(observed);
    }

    for (const entry of unfound.values()) {
      count();
      const details = await this.readInstance(entry, entry.detailsWanted === 0, options);
      if (details) this.applyDetails(entry, details, new Date());
    }
    for (const entry of needDetails) {
      if (!this.entries.has(entry.id)) continue;
      count();
      const details = await this.readInstance(entry, false, options);
      if (details) this.applyDetails(entry, details, new Date());
    }
    for (const { summary, previous } of listChanges) {
      let details: InstanceDetails | null = null;
      if (this.listenerDetails > 0) {
        details = this.entries.get(summary.id)?.state?.details ?? null;
        if (details === null || details.status !== summary.status) {
          count();
          details = await this.readListed(summary.id, options);
          if (details === null) continue;
        }
      }
      this.notifyListeners({ ...this.stateOf(summary.id, summary.status, summary.modifiedOn), details }, previous);
    }
    return cost;
  }

  /** Reads one watched instance; a missing instance ends its subscribers and yields null. */
  private async readInstance(entry: Entry, simple: boolean, options: CallOptions): Promise<InstanceDetails | null> {
    try {
      return await this.deps.api.getInstance(this.deps.workflowName, entry.id, { simple }, options);
    } catch (error) {
      if (!(error instanceof NotFoundError) || options.signal?.aborted) throw error;
      this.entries.delete(entry.id);
      if (error.resource === 'workflow') this.failEverything(error);
      for (const subscriber of entry.subscribers) subscriber.fail(error);
      return null;
    }
  }

  /** Reads a listed instance in full for list subscribers; one deleted meanwhile is skipped. */
  private async readListed(instanceId: string, options: CallOptions): Promise<InstanceDetails | null> {
    try {
      return await this.deps.api.getInstance(this.deps.workflowName, instanceId, { simple: false }, options);
    } catch (error) {
      if (error instanceof NotFoundError && error.resource !== 'workflow' && !options.signal?.aborted) return null;
      throw error;
    }
  }

  private failEverything(error: NotFoundError): void {
    for (const entry of [...this.entries.values()]) {
      this.entries.delete(entry.id);
      for (const subscriber of entry.subscribers) subscriber.fail(error);
    }
    const listeners = [...this.listeners];
    this.listeners.clear();
    this.listenerDetails = 0;
    this.known = undefined;
    for (const listener of listeners) listener.fail(error);
  }

  /** Takes in a list row. Returns true when the entry changed and its subscribers need full details. */
  private applySummary(entry: Entry, summary: InstanceSummary): boolean {
    const modifiedOn = summary.modifiedOn.getTime();
    const changed =
      entry.stale ||
      entry.state === undefined ||
      entry.modifiedOn !== modifiedOn ||
      entry.state.status !== summary.status;
    entry.modifiedOn = modifiedOn;
    if (entry.detailsWanted > 0) return changed || entry.state?.details == null;
    entry.stale = false;
    if (entry.state === undefined || entry.state.status !== summary.status)
      this.publish(entry, summary.status, summary.modifiedOn, null);
    return false;
  }

  private applyDetails(entry: Entry, details: InstanceDetails, seenAt: Date): void {
    entry.stale = false;
    const full = !details.simple;
    const fingerprint = full ? fingerprintOf(details) : details.status;
    const previous = entry.state;
    if (previous && entry.fingerprint === fingerprint && (!full || previous.details !== null)) return;
    entry.fingerprint = fingerprint;
    const at = previous && previous.status === details.status ? previous.at : timeOf(details, seenAt);
    this.publish(entry, details.status, at, full ? details : null);
  }

  private publish(entry: Entry, status: InstanceStatus, at: Date, details: InstanceDetails | null): void {
    const state: InstanceState = { ...this.stateOf(entry.id, status, at), details };
    entry.state = state;
    for (const subscriber of entry.subscribers) subscriber.update(state);
  }

  private stateOf(instanceId: string, status: InstanceStatus, at: Date): Omit<InstanceState, 'details'> {
    return { workflowName: this.deps.workflowName, instanceId, status, at };
  }

  /** The first scan is the baseline (nothing to report); later scans only add and update. */
  private updateKnown(observed: Map<string, Known>): void {
    if (this.known === undefined) {
      this.known = observed;
      return;
    }
    for (const [id, known] of observed) this.known.set(id, known);
  }

  private notifyListeners(state: InstanceState, previous: InstanceStatus | null): void {
    for (const listener of this.listeners) listener.change(state, previous);
  }
}

/** When an instance reached its current status, as far as details tell. */
function timeOf(details: InstanceDetails, seenAt: Date): Date {
  if (isTerminalStatus(details.status)) return details.endedOn ?? seenAt;
  if (details.status === 'queued' && details.startedOn === null) return details.queuedOn;
  return seenAt;
}
