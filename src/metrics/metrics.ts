import type { ServerResponse } from 'node:http';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { TalliedHistogram } from './tallied-histogram.js';
import type { LiveHubStats } from '../subscriptions/live-hub.js';
import type { LiveObserver, LiveStreamKind } from '../subscriptions/types.js';
import type { CredentialBudget } from '../upstream/client.js';
import { BoundedLabel, credentialLabel } from './labels.js';
import { TalliedCounter, type Tally } from './tallied-counter.js';
import { createUpstreamMetrics } from './upstream.js';
import type { UpstreamObserver } from '../upstream/observer.js';

/** The caches whose lookups are counted, as the `cache` label names them. */
export type CacheName = 'documents' | 'parse_errors' | 'query_cost' | 'finished_instances';

/** The subscription field each kind of live stream serves, as the `field` label names it. */
const FIELD_OF_KIND: Readonly<Record<LiveStreamKind, string>> = {
  instanceStatus: 'instanceStatusChanged',
  instanceUpdates: 'instanceUpdated',
  workflowInstances: 'workflowInstancesChanged',
};

/** What the scrape-time gauges read; the app hands it over once it has built these parts. */
export interface MetricSources {
  budgets(): readonly CredentialBudget[];
  liveStats(): LiveHubStats;
  /** Open graphql-ws connections. */
  webSocketConnections(): number;
}

let processRegistry: Registry | undefined;

/**
 * Node's process metrics (`process_*`, `nodejs_*`), on a registry of their own, collected once per process: they
 * describe the process, not an app, and prom-client's collector starts process-wide observers (an event-loop delay
 * monitor, a GC observer) that nothing stops, one set more for every call. Every app's exposition includes them.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** Distinct `operation_name` values before further names count as `other`. */
export const MAX_OPERATION_NAMES = 100;

/**
 * Every metric of one app, on a registry of its own (several apps may run in one process: tests), with the
 * hooks that feed them; the process's metrics come from {@link processMetrics}. The lower layers never import this module: the app hands each of them its hook
 * (`upstreamObserver`, `liveObserver`, `cacheLookup`, `onEstimate`).
 */
export class Metrics {
  readonly registry = new Registry();
  readonly upstreamObserver: UpstreamObserver;
  readonly liveObserver: LiveObserver;
  /** `useSharedSubscriptionExecution`'s `onExecution`. */
  readonly liveExecuted: () => void;

  readonly operations: TalliedCounter<readonly ['operation_type', 'operation_name', 'outcome']>;
  readonly errors: TalliedCounter<readonly ['code']>;
  readonly operationNames = new BoundedLabel(MAX_OPERATION_NAMES);
  private readonly queryCost: TalliedHistogram;
  private readonly cacheHits: TalliedCounter<readonly ['cache']>;
  private readonly cacheMisses: TalliedCounter<readonly ['cache']>;
  private readonly pollCycle: TalliedHistogram;
  private readonly delivered: Tally;
  private readonly deliveryLag: TalliedHistogram;
  private sources: MetricSources | undefined;
  /** Responses to requests that accept an event stream, until they close (see {@link trackEventStream}). */
  private readonly eventStreams = new Set<ServerResponse>();

  constructor() {
    const registry = this.registry;
    const registers = [registry];
    this.operations = new TalliedCounter({
      name: 'wfgql_graphql_operations_total',
      help: 'GraphQL operations by type, name (the first 100 distinct names; then "other") and outcome: success, error (ran, with errors), rejected (refused before running: parse, validation, document limits, variables, cost).',
      labelNames: ['operation_type', 'operation_name', 'outcome'],
      registry,
    });
    this.errors = new TalliedCounter({
      name: 'wfgql_graphql_errors_total',
      help: 'GraphQL errors sent, by extensions.code (errors without a code of the vocabulary count as INTERNAL_SERVER_ERROR).',
      labelNames: ['code'],
      registry,
    });
    this.queryCost = new TalliedHistogram({
      name: 'wfgql_query_cost',
      help: 'Estimated upstream requests of each operation (MAX_QUERY_COST refuses those above it).',
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers,
    });
    this.cacheHits = new TalliedCounter({
      name: 'wfgql_cache_hits_total',
      help: 'Cache lookups that found their entry.',
      labelNames: ['cache'],
      registry,
    });
    this.cacheMisses = new TalliedCounter({
      name: 'wfgql_cache_misses_total',
      help: 'Cache lookups that did not find their entry.',
      labelNames: ['cache'],
      registry,
    });
    this.upstreamObserver = createUpstreamMetrics(registry, () => this.sources?.budgets() ?? [], credentialLabel);

    const read = () => this.sources?.liveStats();
    new Gauge({
      name: 'wfgql_live_subscriptions',
      help: 'Open subscriptions, by subscription field.',
      labelNames: ['field'],
      registers,
      collect() {
        const byKind = read()?.subscribersByKind;
        for (const [kind, field] of Object.entries(FIELD_OF_KIND) as [LiveStreamKind, string][])
          this.set({ field }, byKind?.[kind] ?? 0);
      },
    });
    const webSockets = () => this.sources?.webSocketConnections() ?? 0;
    const eventStreams = () => this.openEventStreams();
    new Gauge({
      name: 'wfgql_live_connections',
      help: 'Open connections that carry subscriptions, by transport (ws: graphql-ws sockets; sse: open event streams).',
      labelNames: ['transport'],
      registers,
      collect() {
        this.set({ transport: 'ws' }, webSockets());
        this.set({ transport: 'sse' }, eventStreams());
      },
    });
    new Gauge({
      name: 'wfgql_live_poll_loops',
      help: 'Poll loops running (one per credential and workflow with subscribers).',
      registers,
      collect() {
        this.set(read()?.loops ?? 0);
      },
    });
    new Gauge({
      name: 'wfgql_live_watched_instances',
      help: 'Instances watched individually by the poll loops.',
      registers,
      collect() {
        this.set(read()?.watchedInstances ?? 0);
      },
    });
    this.pollCycle = new TalliedHistogram({
      name: 'wfgql_live_poll_cycle_seconds',
      help: 'Time one poll cycle takes (its upstream requests, one after another).',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.delivered = new TalliedCounter({
      name: 'wfgql_live_events_delivered_total',
      help: 'Subscription events handed to their transport.',
      registry,
    }).of();
    this.deliveryLag = new TalliedHistogram({
      name: 'wfgql_live_delivery_lag_seconds',
      help: 'From the gateway noticing a change (a poll read it, a mutation reported it) to its event being handed to the transport to write.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    const executions = new TalliedCounter({
      name: 'wfgql_live_executions_total',
      help: "Executions of subscription events' selections: one per event and group of subscribers with the same document, variables, credential and authorization, whose result each of them is sent.",
      registry,
    }).of();
    this.liveExecuted = () => executions.inc();
    this.liveObserver = {
      cycleEnded: (ms) => this.pollCycle.observe(ms / 1000),
      delivered: (ms) => {
        this.delivered.inc();
        this.deliveryLag.observe(ms / 1000);
      },
    };
  }

  /** Where the scrape-time gauges read from (budgets, live hub, sockets). */
  collectFrom(sources: MetricSources): void {
    this.sources = sources;
  }

  /** The hook a cache calls on each lookup. */
  cacheLookup(cache: CacheName): (hit: boolean) => void {
    const hits = this.cacheHits.of(cache);
    const misses = this.cacheMisses.of(cache);
    return (hit) => (hit ? hits.inc() : misses.inc());
  }

  /** `useQueryCostLimit`'s `onEstimate`. */
  readonly onEstimate = (_contextValue: unknown, cost: number): void => {
    this.queryCost.observe(cost);
  };

  /**
   * Counts `res` as an SSE connection while it is open. Called for requests that accept `text/event-stream`
   * (yoga's own SSE on /graphql and graphql-sse on /graphql/stream alike): one whose answer has started with a
   * 200 and not ended is an open event stream (an answer in another format ends at once). Read at scrape time,
   * since the Node adapter writes its headers with `writeHead`, which `getHeader` does not see.
   */
  trackEventStream(res: ServerResponse): void {
    this.eventStreams.add(res);
    res.once('close', () => this.eventStreams.delete(res));
  }

  private openEventStreams(): number {
    let open = 0;
    for (const res of this.eventStreams) if (res.headersSent && res.statusCode === 200 && !res.writableEnded) open++;
    return open;
  }

  /** The exposition, in the Prometheus text format: the process's metrics, then the app's. */
  async expose(): Promise<string> {
    const [process, app] = await Promise.all([processMetrics().metrics(), this.registry.metrics()]);
    return `${process}\n${app}`;
  }
}
