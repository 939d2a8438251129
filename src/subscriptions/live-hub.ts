import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { InstanceDetails, InstanceStatus, WorkflowsApi } from '../upstream/types.js';
import { ShuttingDownError, SubscriptionLimitError } from '../errors/subscription-errors.js';
import { inProcessCoordinator, type LiveCoordinator } from './coordinator.js';
import { Pacer, type BudgetSource } from './pacer.js';
import { PollLoop } from './poll-loop.js';
import {
  InstanceStatusStream,
  InstanceUpdateStream,
  loopKey,
  WorkflowInstancesStream,
  type StreamHooks,
} from './live-streams.js';
import type { InstanceStatusEvent, LiveHub, LiveObserver, LiveStream, LiveStreamKind } from './types.js';

export interface LiveHubStats {
  /** Poll loops running (one per credential and workflow with subscribers). */
  readonly loops: number;
  /** Open subscriptions on every transport. */
  readonly subscribers: number;
  /** Open subscriptions per kind of stream (their sum is `subscribers`). */
  readonly subscribersByKind: Readonly<Record<LiveStreamKind, number>>;
  /** Instances watched individually, over all loops. */
  readonly watchedInstances: number;
  /** Poll cycles and upstream requests made by loops since the hub started. */
  readonly cycles: number;
  readonly requests: number;
}

/**
 * The live hub as the app that owns it sees it: the {@link LiveHub} resolvers use, plus shutdown and the
 * counters operators and tests read.
 */
export interface ManagedLiveHub extends LiveHub {
  /** Completes every subscription (queued events are still delivered) and stops every loop. */
  close(): Promise<void>;
  stats(): LiveHubStats;
}

export interface LiveHubDeps {
  readonly config: Config;
  /** The upstream client; only its per-credential budget is read, to pace the loops. */
  readonly upstream: BudgetSource;
  readonly logger: Logger;
  /** Told of every poll cycle and every event handed to a transport (metrics); unset: nothing is reported. */
  readonly observer?: LiveObserver | undefined;
  /** Shares the loops' work with other replicas; unset: this process polls for its own subscribers alone. */
  readonly coordinator?: LiveCoordinator | undefined;
}

/**
 * Creates the hub that owns every poll loop: subscriptions join the loop of their (credential,
 * workflow), mutations publish into it, and the server-wide subscription limit is enforced here so that
 * it holds across graphql-ws, SSE and graphql-sse alike.
 */
export function createLiveHub(deps: LiveHubDeps): ManagedLiveHub {
  const { config, logger } = deps;
  const coordinator = deps.coordinator ?? inProcessCoordinator;
  const loops = new Map<string, PollLoop>();
  const pacers = new Map<string, Pacer>();
  const streams: StreamHooks = { open: new Set(), observer: deps.observer };
  const openStreams = streams.open;
  const onCycle = deps.observer ? (ms: number) => deps.observer?.cycleEnded(ms) : undefined;
  let closed = false;
  /** Cycles and requests of loops that have stopped, so that `stats()` counts since the hub started. */
  let stoppedLoopTotals = { cycles: 0, requests: 0 };

  function pacerFor(credentialKey: string): Pacer {
    let pacer = pacers.get(credentialKey);
    if (!pacer) {
      pacer = new Pacer(deps.upstream, credentialKey);
      pacers.set(credentialKey, pacer);
    }
    return pacer;
  }

  function loopFor(api: WorkflowsApi, workflowName: string): PollLoop {
    const key = loopKey(api, workflowName);
    let loop = loops.get(key);
    if (!loop) {
      const credentialKey = api.credential.key;
      const pacer = pacerFor(credentialKey);
      const created: PollLoop = new PollLoop({
        api,
        workflowName,
        config,
        pacer,
        logger,
        onCycle,
        coordinator,
        onIdle: () => {
          const stats = created.stats();
          stoppedLoopTotals = {
            cycles: stoppedLoopTotals.cycles + stats.cycles,
            requests: stoppedLoopTotals.requests + stats.requests,
          };
          if (loops.get(key) === created) loops.delete(key);
          if (pacer.loops === 0 && ![...loops.keys()].some((k) => k.startsWith(`${credentialKey}\n`)))
            pacers.delete(credentialKey);
        },
      });
      loop = created;
      loops.set(key, loop);
    }
    return loop;
  }

  /** Throws when the server takes no new subscription (shutting down, or at MAX_SUBSCRIPTIONS). */
  function admitSubscription(): void {
    if (closed) throw new ShuttingDownError();
    if (openStreams.size >= config.maxSubscriptions) {
      throw new SubscriptionLimitError(
        `This server already serves ${config.maxSubscriptions} subscriptions, its limit (MAX_SUBSCRIPTIONS); close some or retry later.`,
        config.maxSubscriptions,
        'server',
      );
    }
  }

  return {
    instanceChanged(api, workflowName, instanceId, details?: InstanceDetails) {
      loops.get(loopKey(api, workflowName))?.changed(instanceId, details);
      coordinator.changed(api.credential.key, workflowName, instanceId, details);
    },

    workflowChanged(api, workflowName) {
      loops.get(loopKey(api, workflowName))?.changed();
      coordinator.changed(api.credential.key, workflowName);
    },

    watchInstanceStatus(api, workflowName, instanceId, { needsDetails }): LiveStream<InstanceStatusEvent> {
      admitSubscription();
      const loop = loopFor(api, workflowName);
      const stream = new InstanceStatusStream(needsDetails, loop, instanceId, streams);
      openStreams.add(stream);
      loop.addInstanceSubscriber(instanceId, stream);
      return stream;
    },

    watchInstanceUpdates(api, workflowName, instanceId): LiveStream<InstanceDetails> {
      admitSubscription();
      const loop = loopFor(api, workflowName);
      const stream = new InstanceUpdateStream(loop, instanceId, streams);
      openStreams.add(stream);
      loop.addInstanceSubscriber(instanceId, stream);
      return stream;
    },

    watchWorkflowInstances(api, workflowName, { statuses, needsDetails }): LiveStream<InstanceStatusEvent> {
      admitSubscription();
      const loop = loopFor(api, workflowName);
      const filter: ReadonlySet<InstanceStatus> | null = statuses === null ? null : new Set(statuses);
      const stream = new WorkflowInstancesStream(needsDetails, filter, loop, streams);
      openStreams.add(stream);
      loop.addWorkflowSubscriber(stream);
      return stream;
    },

    stats() {
      let watchedInstances = 0;
      let cycles = stoppedLoopTotals.cycles;
      let requests = stoppedLoopTotals.requests;
      for (const loop of loops.values()) {
        const stats = loop.stats();
        watchedInstances += stats.watchedInstances;
        cycles += stats.cycles;
        requests += stats.requests;
      }
      const subscribersByKind: Record<LiveStreamKind, number> = {
        instanceStatus: 0,
        instanceUpdates: 0,
        workflowInstances: 0,
      };
      for (const stream of openStreams) subscribersByKind[stream.kind]++;
      return {
        loops: loops.size,
        subscribers: openStreams.size,
        subscribersByKind,
        watchedInstances,
        cycles,
        requests,
      };
    },

    close() {
      closed = true;
      // Ended with a retryable SHUTTING_DOWN error, never completed: a completion means the instance finished,
      // and a client must be able to tell the two apart (over SSE they would look the same).
      for (const stream of [...openStreams]) stream.fail(new ShuttingDownError());
      for (const loop of [...loops.values()]) loop.stop();
      return Promise.resolve();
    },
  };
}
