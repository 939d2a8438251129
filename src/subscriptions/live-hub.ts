import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { InstanceDetails, InstanceStatus, WorkflowsApi } from '../upstream/types.js';
import { ShuttingDownError, SubscriptionLimitError } from './errors.js';
import { Pacer, type BudgetSource } from './pacer.js';
import { Watch } from './poll-loop.js';
import { loopKey, StatusStream, UpdateStream, WorkflowStream, type OpenStreams } from './live-streams.js';
import type { InstanceStatusEvent, LiveHub, LiveStream } from './types.js';

export interface LiveHubStats {
  /** Poll loops running (one per credential and workflow with subscribers). */
  readonly loops: number;
  /** Open subscriptions on every transport. */
  readonly subscribers: number;
  /** Instances watched individually, over all loops. */
  readonly watchedInstances: number;
  /** Poll cycles and upstream requests made by loops since the hub started. */
  readonly cycles: number;
  readonly requests: number;
}

export interface LiveHubImpl extends LiveHub {
  /** Completes every subscription (queued events are still delivered) and stops every loop. */
  close(): Promise<void>;
  stats(): LiveHubStats;
}

export interface LiveHubDeps {
  readonly config: Config;
  /** The upstream client; only its per-credential budget is read, to pace the loops. */
  readonly upstream: BudgetSource;
  readonly logger: Logger;
}

/**
 * Creates the hub that owns every poll loop: subscriptions join the loop of their (credential,
 * workflow), mutations publish into it, and the server-wide subscription limit is enforced here so that
 * it holds across graphql-ws, SSE and graphql-sse alike.
 */
export function createLiveHub(deps: LiveHubDeps): LiveHubImpl {
  const { config, logger } = deps;
  const watches = new Map<string, Watch>();
  const pacers = new Map<string, Pacer>();
  const open: OpenStreams = new Set();
  let closed = false;
  let retired = { cycles: 0, requests: 0 };

  function pacerFor(credentialKey: string): Pacer {
    let pacer = pacers.get(credentialKey);
    if (!pacer) {
      pacer = new Pacer(deps.upstream, credentialKey, config.upstream);
      pacers.set(credentialKey, pacer);
    }
    return pacer;
  }

  function watchFor(api: WorkflowsApi, workflowName: string): Watch {
    const key = loopKey(api, workflowName);
    let watch = watches.get(key);
    if (!watch) {
      const credentialKey = api.credential.key;
      const pacer = pacerFor(credentialKey);
      const created: Watch = new Watch({
        api,
        workflowName,
        config,
        pacer,
        logger,
        onIdle: () => {
          const stats = created.stats();
          retired = { cycles: retired.cycles + stats.cycles, requests: retired.requests + stats.requests };
          if (watches.get(key) === created) watches.delete(key);
          if (pacer.loops === 0 && ![...watches.keys()].some((k) => k.startsWith(`${credentialKey}\n`)))
            pacers.delete(credentialKey);
        },
      });
      watch = created;
      watches.set(key, watch);
    }
    return watch;
  }

  function admit(): void {
    if (closed) throw new ShuttingDownError();
    if (open.size >= config.maxSubscriptions) {
      throw new SubscriptionLimitError(
        `This server already serves ${config.maxSubscriptions} subscriptions, its limit (MAX_SUBSCRIPTIONS); close some or retry later.`,
        config.maxSubscriptions,
        'server',
      );
    }
  }

  return {
    instanceChanged(api, workflowName, instanceId, details?: InstanceDetails) {
      const watch = watches.get(loopKey(api, workflowName));
      if (!watch) return;
      if (details) watch.publishDetails(details);
      else watch.refresh(instanceId);
    },

    workflowChanged(api, workflowName) {
      watches.get(loopKey(api, workflowName))?.refresh();
    },

    watchInstanceStatus(api, workflowName, instanceId, { needsDetails }): LiveStream<InstanceStatusEvent> {
      admit();
      const watch = watchFor(api, workflowName);
      const stream = new StatusStream(needsDetails, watch, instanceId, open);
      open.add(stream);
      watch.addInstanceSubscriber(instanceId, stream);
      return stream;
    },

    watchInstanceUpdates(api, workflowName, instanceId): LiveStream<InstanceDetails> {
      admit();
      const watch = watchFor(api, workflowName);
      const stream = new UpdateStream(watch, instanceId, open);
      open.add(stream);
      watch.addInstanceSubscriber(instanceId, stream);
      return stream;
    },

    watchWorkflowInstances(api, workflowName, { statuses, needsDetails }): LiveStream<InstanceStatusEvent> {
      admit();
      const watch = watchFor(api, workflowName);
      const filter: ReadonlySet<InstanceStatus> | null = statuses === null ? null : new Set(statuses);
      const stream = new WorkflowStream(needsDetails, filter, watch, open);
      open.add(stream);
      watch.addWorkflowSubscriber(stream);
      return stream;
    },

    stats() {
      let watchedInstances = 0;
      let cycles = retired.cycles;
      let requests = retired.requests;
      for (const watch of watches.values()) {
        const stats = watch.stats();
        watchedInstances += stats.instances;
        cycles += stats.cycles;
        requests += stats.requests;
      }
      return { loops: watches.size, subscribers: open.size, watchedInstances, cycles, requests };
    },

    close() {
      closed = true;
      for (const stream of [...open]) stream.end();
      for (const watch of [...watches.values()]) watch.stop();
      return Promise.resolve();
    },
  };
}
