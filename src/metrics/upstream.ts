import { Gauge, type Registry } from 'prom-client';
import { TalliedHistogram } from './tallied-histogram.js';
import { TalliedCounter } from './tallied-counter.js';
import type { CredentialBudget } from '../upstream/client.js';
import type { UpstreamObserver } from '../upstream/observer.js';

/**
 * The upstream metrics, fed by the client's {@link UpstreamObserver} hooks; the budget gauge is read from the
 * client's budgets at scrape time. Labels hold route templates, statuses, priorities and a hash of the
 * credential key: never a path, an instance id or a token.
 */
export function createUpstreamMetrics(
  registry: Registry,
  budgets: () => readonly CredentialBudget[],
  credentialLabel: (credentialKey: string) => string,
): UpstreamObserver {
  const registers = [registry];
  const requests = new TalliedCounter({
    name: 'wfgql_upstream_requests_total',
    help: 'Requests sent to the Workflows API (each attempt), by route template and status ("network" when no answer came).',
    labelNames: ['route', 'status'],
    registry,
  });
  const duration = new TalliedHistogram({
    name: 'wfgql_upstream_request_duration_seconds',
    help: "Time from sending a request to the Workflows API to its answer's headers (or its failure), per attempt.",
    labelNames: ['route'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
    registers,
  });
  const retries = new TalliedCounter({
    name: 'wfgql_upstream_retries_total',
    help: 'Attempts after the first (retried 429s, 5xx answers and network failures).',
    registry,
  }).of();
  const rateLimited = new TalliedCounter({
    name: 'wfgql_upstream_rate_limited_total',
    help: '429 answers received from the Workflows API.',
    registry,
  }).of();
  const budgetRefused = new TalliedCounter({
    name: 'wfgql_upstream_budget_refused_total',
    help: "Calls the gateway's own request budget refused before sending (RATE_LIMITED to the client, or a slower poll), by priority.",
    labelNames: ['priority'],
    registry,
  });
  const deduplicated = new TalliedCounter({
    name: 'wfgql_upstream_deduplicated_total',
    help: 'Reads that joined an identical one in flight instead of sending a request.',
    registry,
  }).of();
  // A plain number, read when scraped (as the counters above are).
  let inFlight = 0;
  new Gauge({
    name: 'wfgql_upstream_calls_in_flight',
    help: 'Upstream calls started and not yet ended (waiting for the budget, for an answer, or between retries).',
    registers,
    collect() {
      this.set(inFlight);
    },
  });
  new Gauge({
    name: 'wfgql_upstream_budget_remaining',
    help: "Requests the gateway's budget lets each credential send now, by credential (a hash of its key) and priority (interactive: every request; background: what polling may use above the interactive reserve).",
    labelNames: ['credential', 'priority'],
    registers,
    collect() {
      // Credentials the client dropped (least recently used) must not linger as stale series.
      this.reset();
      for (const { credentialKey, state } of budgets()) {
        const credential = credentialLabel(credentialKey);
        this.set({ credential, priority: 'interactive' }, state.available);
        this.set({ credential, priority: 'background' }, state.backgroundAvailable);
      }
    },
  });

  return {
    callStarted({ route, priority }) {
      inFlight++;
      return {
        attemptEnded({ index, status, durationMs }) {
          requests.of(route, String(status)).inc();
          duration.observe({ route }, durationMs / 1000);
          if (index > 0) retries.inc();
          if (status === 429) rateLimited.inc();
        },
        ended({ refusedByBudget }) {
          inFlight--;
          if (refusedByBudget) budgetRefused.of(priority).inc();
        },
      };
    },
    deduplicated() {
      deduplicated.inc();
    },
  };
}
