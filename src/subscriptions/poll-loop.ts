import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { MAX_PAGE_SIZE } from '../upstream/limits.js';
import {
  AbortedError,
  NotFoundError,
  UpstreamRateLimitedError,
  UpstreamError,
  type NotFoundResource,
} from '../upstream/errors.js';
import {
  isTerminalStatus,
  type CallOptions,
  type InstanceDetails,
  type InstanceStatus,
  type InstanceSummary,
  type WorkflowsApi,
} from '../upstream/types.js';
import type { CoordinatedLoop, LiveCoordinator, LoopInterest, LoopLink, LoopRole, SharedState } from './coordinator.js';
import { fingerprintOf } from './fingerprint.js';
import type { Pacer } from './pacer.js';
import { RemoteInstanceInterest, RemoteWorkflowInterest } from './remote-interest.js';

/** What a watched instance looks like now, shared by every subscriber of it (never copied per subscriber). */
export interface InstanceState {
  readonly workflowName: string;
  readonly instanceId: string;
  readonly status: InstanceStatus;
  /** When the status was reached: the list's `modified_on`, the end time of a finished instance, else when it was seen. */
  readonly at: Date;
  /** Full details (with steps) when a subscriber needs them; null when only the status is known. */
  readonly details: InstanceDetails | null;
  /** `performance.now()` when the gateway noticed this state (a poll read it, or a mutation reported it). */
  readonly noticedAt: number;
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

export interface PollLoopStats {
  readonly watchedInstances: number;
  readonly cycles: number;
  readonly requests: number;
}

/** Most list pages one cycle reads for `workflowInstancesChanged` (the 2,000 most recent instances). */
const MAX_LIST_PAGES = 20;
/** Longest back-off after repeated failures: subscriptions resume within this long of upstream returning. */
export const MAX_BACKOFF_MS = 5_000;

/** Slower polling for statuses that change rarely or only through a mutation (which publishes at once). */
const INTERVAL_FACTOR_BY_STATUS: Readonly<Record<InstanceStatus, number>> = {
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

/** One instance watched for its own subscribers, and what the loop last saw of it. */
interface WatchedInstance {
  readonly instanceId: string;
  readonly subscribers: Set<InstanceSubscriber>;
  /** How many of `subscribers` need full details, not just the status. */
  subscribersNeedingDetails: number;
  state: InstanceState | undefined;
  /** `modified_on` of the last list row seen, to tell whether anything changed. */
  lastListModifiedOn: number | undefined;
  fingerprint: string | undefined;
  /** Poll even if terminal or unchanged: a mutation said it changed. */
  changedByMutation: boolean;
}

/** What the instance list last said about one instance, for workflow subscribers. */
interface ListedInstance {
  status: InstanceStatus;
  modifiedOn: number;
}

/** What one poll cycle carries from one step to the next. */
interface Cycle {
  readonly options: CallOptions;
  /** Upstream requests made so far. */
  requests: number;
  /** Watched instances not (yet) found on a list page: read directly. */
  readonly notYetListed: Map<string, WatchedInstance>;
  /** Watched instances whose list row changed and whose subscribers need full details. */
  readonly needFullDetails: Set<WatchedInstance>;
  /** New instances and status changes on the list, for workflow subscribers. */
  readonly listChanges: { readonly summary: InstanceSummary; readonly previous: InstanceStatus | null }[];
}

export interface PollLoopDeps {
  readonly api: WorkflowsApi;
  readonly workflowName: string;
  readonly config: Pick<Config, 'pollIntervalMs'>;
  readonly pacer: Pacer;
  readonly logger: Logger;
  /** Called once the last subscriber has left and the loop has stopped. */
  readonly onIdle: () => void;
  /** Told how long each cycle took (one its loop's stop cut short excepted), for metrics. */
  readonly onCycle?: ((durationMs: number) => void) | undefined;
  /** Decides whether this loop polls, and shares what it reads with other replicas (src/subscriptions/coordinator.ts). */
  readonly coordinator: LiveCoordinator;
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
 * so the time a cycle takes does not add to the delay before a change is noticed). Failures back off and
 * retry; only "not found" ends a subscription.
 */
export class PollLoop implements CoordinatedLoop {
  private readonly watchedInstances = new Map<string, WatchedInstance>();
  private readonly workflowSubscribers = new Set<WorkflowSubscriber>();
  private workflowSubscribersNeedingDetails = 0;
  /** Last status of each instance seen on the list, for list subscribers; undefined until the baseline scan. */
  private lastListed: Map<string, ListedInstance> | undefined;
  private nextCycleTimer: NodeJS.Timeout | undefined;
  private cycleAbort: AbortController | undefined;
  private cycleRunning = false;
  private pollRequestedWhileRunning = false;
  private stopped = false;
  private consecutiveFailures = 0;
  private cycles = 0;
  private requests = 0;
  private lastCycleRequests = 1;
  /** `performance.now()` when the last cycle started: the next one is due an interval after it. */
  private lastCycleStartedAt: number | undefined;
  /** Whether this loop polls (alone or leading) or delivers what another replica's leader publishes. */
  private role: LoopRole = 'alone';
  /** Set on becoming leader: after the next cycle every known state is published, read again or not. */
  private republishAfterCycle = false;
  /** Stand-ins for other replicas' subscribers while this loop leads. */
  private readonly remoteInstances = new Map<string, RemoteInstanceInterest>();
  private remoteWorkflow: RemoteWorkflowInterest | undefined;
  private readonly link: LoopLink;

  constructor(private readonly deps: PollLoopDeps) {
    this.link = deps.coordinator.join(this);
  }

  get credentialKey(): string {
    return this.deps.api.credential.key;
  }

  get workflowName(): string {
    return this.deps.workflowName;
  }

  private get polls(): boolean {
    return this.role !== 'follower';
  }

  get idle(): boolean {
    return this.watchedInstances.size === 0 && this.workflowSubscribers.size === 0;
  }

  stats(): PollLoopStats {
    return { watchedInstances: this.watchedInstances.size, cycles: this.cycles, requests: this.requests };
  }

  addInstanceSubscriber(instanceId: string, subscriber: InstanceSubscriber): void {
    let watched = this.watchedInstances.get(instanceId);
    if (!watched) {
      watched = {
        instanceId,
        subscribers: new Set(),
        subscribersNeedingDetails: 0,
        state: undefined,
        lastListModifiedOn: undefined,
        fingerprint: undefined,
        changedByMutation: false,
      };
      this.watchedInstances.set(instanceId, watched);
    }
    watched.subscribers.add(subscriber);
    if (subscriber.needsDetails) watched.subscribersNeedingDetails++;
    if (!(subscriber instanceof RemoteInstanceInterest)) this.link.interestChanged();
    const state = watched.state;
    if (state && (!subscriber.needsDetails || state.details !== null)) {
      subscriber.update(state);
      this.ensureScheduled();
    } else if (!this.cycleRunning) {
      // A cycle in flight serves this subscriber too; `hasUnservedSubscribers()` starts another if it did not.
      this.pollSoon();
    }
  }

  removeInstanceSubscriber(instanceId: string, subscriber: InstanceSubscriber): void {
    const watched = this.watchedInstances.get(instanceId);
    if (!watched || !watched.subscribers.delete(subscriber)) return;
    if (subscriber.needsDetails) watched.subscribersNeedingDetails--;
    if (watched.subscribers.size === 0) this.watchedInstances.delete(instanceId);
    if (!(subscriber instanceof RemoteInstanceInterest)) this.link.interestChanged();
    this.stopIfIdle();
  }

  addWorkflowSubscriber(subscriber: WorkflowSubscriber): void {
    this.workflowSubscribers.add(subscriber);
    if (subscriber.needsDetails) this.workflowSubscribersNeedingDetails++;
    if (!(subscriber instanceof RemoteWorkflowInterest)) this.link.interestChanged();
    if (this.lastListed === undefined && !this.cycleRunning) this.pollSoon();
    else this.ensureScheduled();
  }

  removeWorkflowSubscriber(subscriber: WorkflowSubscriber): void {
    if (!this.workflowSubscribers.delete(subscriber)) return;
    if (subscriber.needsDetails) this.workflowSubscribersNeedingDetails--;
    // Without list subscribers the per-instance status map is dead weight.
    if (this.workflowSubscribers.size === 0) this.lastListed = undefined;
    if (!(subscriber instanceof RemoteWorkflowInterest)) this.link.interestChanged();
    this.stopIfIdle();
  }

  /** A mutation changed an instance (`details`: what it observed), or without an instance id, the list. */
  changed(instanceId?: string, details?: InstanceDetails): void {
    if (details) this.publishDetails(details);
    else this.refresh(instanceId);
  }

  /** A mutation observed `details`: publish them now. */
  publishDetails(details: InstanceDetails): void {
    if (this.stopped) return;
    const watched = this.watchedInstances.get(details.id);
    if (watched) this.applyDetails(watched, details, new Date());
    if (this.lastListed) {
      const listed = this.lastListed.get(details.id);
      const previous = listed?.status ?? null;
      if (previous !== details.status) {
        this.lastListed.set(details.id, { status: details.status, modifiedOn: listed?.modifiedOn ?? 0 });
        this.notifyWorkflowSubscribers(
          {
            ...this.stateWithoutDetails(details.id, details.status, statusReachedAt(details, new Date())),
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
      const watched = this.watchedInstances.get(instanceId);
      if (watched) watched.changedByMutation = true;
      else if (this.workflowSubscribers.size === 0) return;
    } else if (this.workflowSubscribers.size === 0) {
      return;
    }
    this.pollSoon();
  }

  /** Stops the loop for good: no timer, no request in flight. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.nextCycleTimer);
    this.nextCycleTimer = undefined;
    this.cycleAbort?.abort();
    this.cycleAbort = undefined;
    this.deps.pacer.remove(this);
    this.link.leave();
    this.deps.onIdle();
  }

  localInterest(): LoopInterest {
    const instances = new Map<string, boolean>();
    for (const watched of this.watchedInstances.values()) {
      let local = false;
      let needsDetails = false;
      for (const subscriber of watched.subscribers) {
        if (subscriber instanceof RemoteInstanceInterest) continue;
        local = true;
        needsDetails ||= subscriber.needsDetails;
      }
      if (local) instances.set(watched.instanceId, needsDetails);
    }
    let workflow: boolean | null = null;
    for (const subscriber of this.workflowSubscribers) {
      if (subscriber instanceof RemoteWorkflowInterest) continue;
      workflow = (workflow ?? false) || subscriber.needsDetails;
    }
    return { instances, workflow };
  }

  unservedInstances(): string[] {
    const unserved: string[] = [];
    for (const watched of this.watchedInstances.values()) {
      const state = watched.state;
      if (state === undefined || (watched.subscribersNeedingDetails > 0 && state.details === null))
        unserved.push(watched.instanceId);
    }
    return unserved;
  }

  setRole(role: LoopRole): void {
    if (this.stopped || role === this.role) return;
    this.role = role;
    if (role === 'follower') {
      clearTimeout(this.nextCycleTimer);
      this.nextCycleTimer = undefined;
      this.cycleAbort?.abort();
      this.cycleAbort = undefined;
      this.deps.pacer.setDemand(this, 0);
      return;
    }
    // A new leader re-reads everything and publishes it: what was published before may be lost (at-most-once).
    if (role === 'leader') this.republishAfterCycle = true;
    this.pollSoon();
  }

  setRemoteInterest(interest: LoopInterest): void {
    if (this.stopped) return;
    const replaced: [string, RemoteInstanceInterest][] = [];
    for (const [instanceId, needsDetails] of interest.instances) {
      const current = this.remoteInstances.get(instanceId);
      if (current?.needsDetails === needsDetails) continue;
      if (current) replaced.push([instanceId, current]);
      const stand = new RemoteInstanceInterest(needsDetails);
      this.remoteInstances.set(instanceId, stand);
      this.addInstanceSubscriber(instanceId, stand);
      // Known already: published again for the replica that asks (what was kept of it may have expired).
      const state = this.watchedInstances.get(instanceId)?.state;
      if (state && (!needsDetails || state.details !== null)) this.link.stateChanged(state);
    }
    let oldWorkflow: RemoteWorkflowInterest | undefined;
    if (interest.workflow !== (this.remoteWorkflow?.needsDetails ?? null)) {
      oldWorkflow = this.remoteWorkflow;
      this.remoteWorkflow = interest.workflow === null ? undefined : new RemoteWorkflowInterest(interest.workflow);
      if (this.remoteWorkflow) this.addWorkflowSubscriber(this.remoteWorkflow);
    }
    // Removed last: the loop stops once nothing is watched anywhere, not in between.
    for (const [instanceId, stand] of this.remoteInstances)
      if (!interest.instances.has(instanceId)) replaced.push([instanceId, stand]);
    for (const [instanceId, stand] of replaced) {
      if (this.remoteInstances.get(instanceId) === stand) this.remoteInstances.delete(instanceId);
      this.removeInstanceSubscriber(instanceId, stand);
    }
    if (oldWorkflow) this.removeWorkflowSubscriber(oldWorkflow);
  }

  applyState(shared: SharedState): void {
    const watched = this.watchedInstances.get(shared.instanceId);
    if (!watched || this.stopped) return;
    const previous = watched.state;
    if (shared.details === null) {
      if (previous?.status === shared.status) return;
      watched.fingerprint = shared.status;
    } else {
      const fingerprint = fingerprintOf(shared.details);
      if (previous && watched.fingerprint === fingerprint && previous.details !== null) return;
      watched.fingerprint = fingerprint;
    }
    this.deliverState(watched, shared.status, shared.at, shared.details);
  }

  applyListChange(shared: SharedState, previous: InstanceStatus | null): void {
    if (this.stopped) return;
    const state: InstanceState = {
      ...this.stateWithoutDetails(shared.instanceId, shared.status, shared.at),
      details: shared.details,
    };
    for (const subscriber of this.workflowSubscribers) subscriber.change(state, previous);
  }

  applyGone(instanceId: string | null, resource: NotFoundResource): void {
    if (this.stopped) return;
    const error = new NotFoundError(
      instanceId === null ? `Workflow ${this.deps.workflowName} not found.` : `Instance ${instanceId} not found.`,
      resource,
    );
    if (instanceId === null) {
      this.failAllSubscribers(error, false);
      return;
    }
    const watched = this.watchedInstances.get(instanceId);
    if (!watched) return;
    this.watchedInstances.delete(instanceId);
    for (const subscriber of watched.subscribers) subscriber.fail(error);
    this.link.interestChanged();
  }

  /** Starts a cycle as soon as possible; one already running is followed by another. */
  private pollSoon(): void {
    if (this.stopped || !this.polls) return;
    if (this.cycleRunning) {
      this.pollRequestedWhileRunning = true;
      return;
    }
    clearTimeout(this.nextCycleTimer);
    this.nextCycleTimer = setTimeout(() => void this.runCycle(), 0);
  }

  private ensureScheduled(): void {
    if (this.stopped || !this.polls || this.cycleRunning || this.nextCycleTimer !== undefined) return;
    this.scheduleNextCycle();
  }

  private stopIfIdle(): void {
    if (this.idle) this.stop();
  }

  private scheduleNextCycle(delayMs?: number): void {
    if (this.stopped || !this.polls) return;
    clearTimeout(this.nextCycleTimer);
    this.nextCycleTimer = undefined;
    const preferred = this.preferredInterval();
    if (preferred === Infinity && delayMs === undefined) {
      // Everything watched has finished: nothing to poll until a mutation or a new subscriber says so.
      this.deps.pacer.setDemand(this, 0);
      return;
    }
    let delay: number;
    if (delayMs !== undefined) {
      delay = delayMs;
    } else {
      this.deps.pacer.setDemand(this, this.lastCycleRequests / (preferred / 1000));
      const elapsed = this.lastCycleStartedAt === undefined ? 0 : performance.now() - this.lastCycleStartedAt;
      delay = this.deps.pacer.delayFor(preferred, elapsed);
    }
    this.nextCycleTimer = setTimeout(() => void this.runCycle(), delay);
  }

  /** The base interval scaled by the most urgent status watched; Infinity when nothing needs polling. */
  private preferredInterval(): number {
    let factor = this.workflowSubscribers.size > 0 ? 1 : Infinity;
    for (const watched of this.watchedInstances.values()) {
      if (watched.changedByMutation || watched.state === undefined) return this.deps.config.pollIntervalMs;
      factor = Math.min(factor, INTERVAL_FACTOR_BY_STATUS[watched.state.status]);
    }
    return factor * this.deps.config.pollIntervalMs;
  }

  private async runCycle(): Promise<void> {
    this.nextCycleTimer = undefined;
    if (this.stopped || !this.polls || this.cycleRunning) return;
    this.cycleRunning = true;
    this.pollRequestedWhileRunning = false;
    const startedAt = performance.now();
    this.lastCycleStartedAt = startedAt;
    const cycleAbort = new AbortController();
    this.cycleAbort = cycleAbort;
    let retryAfter: number | undefined;
    let aborted = false;
    try {
      this.lastCycleRequests = Math.max(1, await this.pollUpstream(cycleAbort.signal));
      this.consecutiveFailures = 0;
      if (this.republishAfterCycle && this.role === 'leader') this.republishAll();
    } catch (error) {
      if (cycleAbort.signal.aborted || error instanceof AbortedError) aborted = true;
      else if (error instanceof NotFoundError && error.resource === 'workflow') this.failAllSubscribers(error, true);
      else retryAfter = this.retryDelayAfter(error);
    } finally {
      this.cycleRunning = false;
      if (this.cycleAbort === cycleAbort) this.cycleAbort = undefined;
      if (!cycleAbort.signal.aborted) this.deps.onCycle?.(performance.now() - startedAt);
    }
    if (this.stopped) return;
    // Cut short by becoming a follower; when leading again since, poll now.
    if (aborted) {
      if (this.polls) this.scheduleNextCycle(0);
      return;
    }
    if (this.idle) {
      this.stop();
      return;
    }
    if (retryAfter !== undefined) this.scheduleNextCycle(retryAfter);
    else if (this.pollRequestedWhileRunning || this.hasUnservedSubscribers()) this.scheduleNextCycle(0);
    else this.scheduleNextCycle();
  }

  /** Subscribers that joined while a cycle was running may still lack their first state. */
  private hasUnservedSubscribers(): boolean {
    for (const watched of this.watchedInstances.values()) {
      if (watched.changedByMutation || watched.state === undefined) return true;
      const lacksDetails = watched.subscribersNeedingDetails > 0 && watched.state.details === null;
      if (lacksDetails && !isTerminalStatus(watched.state.status)) return true;
    }
    return this.workflowSubscribers.size > 0 && this.lastListed === undefined;
  }

  /** Counts a failed cycle and decides how long to wait; subscribers are kept unless the thing is gone. */
  private retryDelayAfter(error: unknown): number {
    this.consecutiveFailures++;
    const base = this.deps.config.pollIntervalMs;
    if (error instanceof UpstreamRateLimitedError) {
      this.deps.logger.debug(
        { workflowName: this.deps.workflowName, source: error.source, retryInMs: error.retryAfterMs ?? base },
        'subscription poll rate limited; retrying',
      );
      return Math.max(error.retryAfterMs ?? base, base);
    }
    this.deps.logger.warn(
      {
        workflowName: this.deps.workflowName,
        consecutiveFailures: this.consecutiveFailures,
        ...(error instanceof UpstreamError ? { upstreamError: error.toJSON() } : { err: error }),
      },
      'subscription poll failed; retrying',
    );
    return Math.min(base * 2 ** Math.min(this.consecutiveFailures, 10), MAX_BACKOFF_MS);
  }

  /** One poll cycle. Returns the number of upstream requests it made. */
  private async pollUpstream(signal: AbortSignal): Promise<number> {
    this.cycles++;
    const pollable = this.pollableInstances();
    const cycle: Cycle = {
      options: { priority: 'background', signal },
      requests: 0,
      notYetListed: new Map(pollable.map((watched) => [watched.instanceId, watched])),
      needFullDetails: new Set(),
      listChanges: [],
    };
    if (this.workflowSubscribers.size > 0 || pollable.length > 1) await this.readListPages(cycle, pollable.length);
    await this.readWatchedInstances(cycle);
    await this.notifyListChanges(cycle);
    return cycle.requests;
  }

  /** The watched instances a cycle reads: unfinished ones, ones without a state yet, and ones a mutation changed. */
  private pollableInstances(): WatchedInstance[] {
    const pollable: WatchedInstance[] = [];
    for (const watched of this.watchedInstances.values()) {
      if (watched.changedByMutation || watched.state === undefined || !isTerminalStatus(watched.state.status))
        pollable.push(watched);
    }
    return pollable;
  }

  private countRequest(cycle: Cycle): void {
    cycle.requests++;
    this.requests++;
  }

  /**
   * Reads list pages: for workflow subscribers up to {@link MAX_LIST_PAGES}, else only until the watched
   * instances are found. Applies each row to its watched instance and collects the list's status changes.
   */
  private async readListPages(cycle: Cycle, pollableCount: number): Promise<void> {
    const listedNow = new Map<string, ListedInstance>();
    const maxPages = this.workflowSubscribers.size > 0 ? MAX_LIST_PAGES : Math.ceil(pollableCount / MAX_PAGE_SIZE) + 1;
    for (let page = 1; page <= maxPages; page++) {
      this.countRequest(cycle);
      const result = await this.deps.api.listInstances(
        this.deps.workflowName,
        { page, perPage: MAX_PAGE_SIZE },
        cycle.options,
      );
      for (const summary of result.items) {
        const watched = cycle.notYetListed.get(summary.id);
        if (watched) {
          cycle.notYetListed.delete(summary.id);
          if (this.applyListRow(watched, summary)) cycle.needFullDetails.add(watched);
        }
        if (this.workflowSubscribers.size > 0)
          listedNow.set(summary.id, { status: summary.status, modifiedOn: summary.modifiedOn.getTime() });
        if (this.lastListed) {
          const listed = this.lastListed.get(summary.id);
          if (!listed || listed.status !== summary.status)
            cycle.listChanges.push({ summary, previous: listed?.status ?? null });
        }
      }
      const lastPage =
        result.items.length < MAX_PAGE_SIZE || (result.info.totalPages !== null && page >= result.info.totalPages);
      // Past this point reading the few missing instances directly is cheaper than another page.
      if (lastPage || (this.workflowSubscribers.size === 0 && cycle.notYetListed.size <= 1)) break;
    }
    if (this.workflowSubscribers.size > 0) this.recordListed(listedNow);
  }

  /** Reads directly the watched instances the list pages did not show, then those that need full details. */
  private async readWatchedInstances(cycle: Cycle): Promise<void> {
    for (const watched of cycle.notYetListed.values()) {
      this.countRequest(cycle);
      const details = await this.readWatchedInstance(watched, watched.subscribersNeedingDetails === 0, cycle.options);
      if (details) this.applyDetails(watched, details, new Date());
    }
    for (const watched of cycle.needFullDetails) {
      if (!this.watchedInstances.has(watched.instanceId)) continue;
      this.countRequest(cycle);
      const details = await this.readWatchedInstance(watched, false, cycle.options);
      if (details) this.applyDetails(watched, details, new Date());
    }
  }

  /** Tells workflow subscribers of each change the list showed, with full details when one of them needs them. */
  private async notifyListChanges(cycle: Cycle): Promise<void> {
    for (const { summary, previous } of cycle.listChanges) {
      let details: InstanceDetails | null = null;
      if (this.workflowSubscribersNeedingDetails > 0) {
        details = this.watchedInstances.get(summary.id)?.state?.details ?? null;
        if (details === null || details.status !== summary.status) {
          this.countRequest(cycle);
          details = await this.readListedInstance(summary.id, cycle.options);
          if (details === null) continue;
        }
      }
      this.notifyWorkflowSubscribers(
        { ...this.stateWithoutDetails(summary.id, summary.status, summary.modifiedOn), details },
        previous,
      );
    }
  }

  /** Reads one watched instance; a missing instance ends its subscribers and yields null. */
  private async readWatchedInstance(
    watched: WatchedInstance,
    simple: boolean,
    options: CallOptions,
  ): Promise<InstanceDetails | null> {
    try {
      return await this.deps.api.getInstance(this.deps.workflowName, watched.instanceId, { simple }, options);
    } catch (error) {
      if (!(error instanceof NotFoundError) || options.signal?.aborted) throw error;
      this.watchedInstances.delete(watched.instanceId);
      if (error.resource === 'workflow') this.failAllSubscribers(error, true);
      else this.link.gone(watched.instanceId, error.resource);
      for (const subscriber of watched.subscribers) subscriber.fail(error);
      return null;
    }
  }

  /** Reads a listed instance in full for list subscribers; one deleted meanwhile is skipped. */
  private async readListedInstance(instanceId: string, options: CallOptions): Promise<InstanceDetails | null> {
    try {
      return await this.deps.api.getInstance(this.deps.workflowName, instanceId, { simple: false }, options);
    } catch (error) {
      if (error instanceof NotFoundError && error.resource !== 'workflow' && !options.signal?.aborted) return null;
      throw error;
    }
  }

  /** Ends every subscriber; `publish`: this loop found out itself, so other replicas' subscribers should end too. */
  private failAllSubscribers(error: NotFoundError, publish: boolean): void {
    if (publish) this.link.gone(null, error.resource);
    for (const watched of [...this.watchedInstances.values()]) {
      this.watchedInstances.delete(watched.instanceId);
      for (const subscriber of watched.subscribers) subscriber.fail(error);
    }
    const workflowSubscribers = [...this.workflowSubscribers];
    this.workflowSubscribers.clear();
    this.workflowSubscribersNeedingDetails = 0;
    this.lastListed = undefined;
    for (const subscriber of workflowSubscribers) subscriber.fail(error);
    if (!publish) this.link.interestChanged();
  }

  /** Publishes every known state (a new leader's first cycle: followers may have missed what came before). */
  private republishAll(): void {
    this.republishAfterCycle = false;
    for (const watched of this.watchedInstances.values()) if (watched.state) this.link.stateChanged(watched.state);
  }

  /** Takes in a list row. Returns true when the instance changed and its subscribers need full details. */
  private applyListRow(watched: WatchedInstance, summary: InstanceSummary): boolean {
    const modifiedOn = summary.modifiedOn.getTime();
    const changed =
      watched.changedByMutation ||
      watched.state === undefined ||
      watched.lastListModifiedOn !== modifiedOn ||
      watched.state.status !== summary.status;
    watched.lastListModifiedOn = modifiedOn;
    if (watched.subscribersNeedingDetails > 0) return changed || watched.state?.details == null;
    watched.changedByMutation = false;
    if (watched.state === undefined || watched.state.status !== summary.status)
      this.publishState(watched, summary.status, summary.modifiedOn, null);
    return false;
  }

  private applyDetails(watched: WatchedInstance, details: InstanceDetails, seenAt: Date): void {
    watched.changedByMutation = false;
    const full = !details.simple;
    const fingerprint = full ? fingerprintOf(details) : details.status;
    const previous = watched.state;
    if (previous && watched.fingerprint === fingerprint && (!full || previous.details !== null)) return;
    watched.fingerprint = fingerprint;
    const at = previous && previous.status === details.status ? previous.at : statusReachedAt(details, seenAt);
    this.publishState(watched, details.status, at, full ? details : null);
  }

  private publishState(
    watched: WatchedInstance,
    status: InstanceStatus,
    at: Date,
    details: InstanceDetails | null,
  ): void {
    const state = this.deliverState(watched, status, at, details);
    this.link.stateChanged(state);
  }

  /** Makes `state` the watched instance's state and hands it to its subscribers on this replica. */
  private deliverState(
    watched: WatchedInstance,
    status: InstanceStatus,
    at: Date,
    details: InstanceDetails | null,
  ): InstanceState {
    const state: InstanceState = { ...this.stateWithoutDetails(watched.instanceId, status, at), details };
    watched.state = state;
    for (const subscriber of watched.subscribers) subscriber.update(state);
    return state;
  }

  private stateWithoutDetails(instanceId: string, status: InstanceStatus, at: Date): Omit<InstanceState, 'details'> {
    return { workflowName: this.deps.workflowName, instanceId, status, at, noticedAt: performance.now() };
  }

  /** The first scan is the baseline (nothing to report); later scans only add and update. */
  private recordListed(listedNow: Map<string, ListedInstance>): void {
    if (this.lastListed === undefined) {
      this.lastListed = listedNow;
      return;
    }
    for (const [instanceId, listed] of listedNow) this.lastListed.set(instanceId, listed);
  }

  private notifyWorkflowSubscribers(state: InstanceState, previous: InstanceStatus | null): void {
    for (const subscriber of this.workflowSubscribers) subscriber.change(state, previous);
    this.link.listChanged(state, previous);
  }
}

/** When an instance reached its current status, as far as details tell. */
function statusReachedAt(details: InstanceDetails, seenAt: Date): Date {
  if (isTerminalStatus(details.status)) return details.endedOn ?? seenAt;
  if (details.status === 'queued' && details.startedOn === null) return details.queuedOn;
  return seenAt;
}
