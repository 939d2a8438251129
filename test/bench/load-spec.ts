/** The contract between the orchestrator (`load.ts`) and the load process (`load-worker.ts`). */

export interface LoadRequest {
  readonly method: 'GET' | 'POST';
  /** Path and query, such as `/graphql` or `/instance/wf/id`. */
  readonly path: string;
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * How a response body is judged: `graphql` needs JSON with `data` and no `errors` (a GraphQL error still
 * answers 200, so the status alone proves nothing); `json` needs any JSON value.
 */
export type BodyCheck = 'graphql' | 'json';

/** Constant-concurrency load for a fixed time (autocannon), after an unmeasured warm-up. */
export interface SustainedLoad {
  readonly kind: 'sustained';
  /** Origin, such as `http://127.0.0.1:4000`. */
  readonly origin: string;
  /** Sent round-robin across all connections, so each one is used equally often. */
  readonly requests: readonly LoadRequest[];
  readonly connections: number;
  readonly warmupS: number;
  readonly durationS: number;
  /** Requests per second over all connections; unset = as fast as the server answers. */
  readonly overallRate?: number;
  readonly check: BodyCheck;
  /**
   * After the warm-up, send {@link WARM_MESSAGE} and wait for {@link MEASURE_MESSAGE} before the measured run,
   * so that the orchestrator can read counters (the gateway's CPU time) exactly between the two.
   */
  readonly pauseAfterWarmup?: boolean;
}

/** `concurrency` simultaneous requests per round, `rounds` rounds one after the other. */
export interface BurstLoad {
  readonly kind: 'burst';
  readonly origin: string;
  readonly request: LoadRequest;
  readonly concurrency: number;
  readonly rounds: number;
  readonly check: BodyCheck;
}

export type LoadSpec = SustainedLoad | BurstLoad;

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
}

export interface SustainedResult {
  readonly kind: 'sustained';
  /** Responses that were 2xx with a body that passed the check. */
  readonly ok: number;
  /** Good responses of the unmeasured warm-up, for counting the upstream calls behind every response. */
  readonly warmupOk: number;
  readonly non2xx: number;
  /** 2xx answers whose body failed the check. */
  readonly badBodies: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly durationS: number;
  /** `ok / durationS`. */
  readonly rps: number;
  /** Of good responses, in ms with sub-millisecond precision (autocannon's own histogram keeps whole ms). */
  readonly latencyMs: LatencySummary;
  readonly firstBadBody?: string;
}

export interface BurstResult {
  readonly kind: 'burst';
  /** Wall time of each round, ms: first request sent to last response read. */
  readonly roundMs: readonly number[];
  /** Latency of every request, ms. */
  readonly requestMs: readonly number[];
  readonly ok: number;
  readonly failed: number;
  readonly firstBadBody?: string;
}

export type LoadResult = SustainedResult | BurstResult;

/** Prefix of the one stdout line that carries the result. */
export const RESULT_PREFIX = 'LOAD-RESULT ';

/** IPC message types of {@link SustainedLoad.pauseAfterWarmup}: the worker's "warmed up", the orchestrator's "go on". */
export const WARM_MESSAGE = 'warm';
export const MEASURE_MESSAGE = 'measure';

/** Returns a reason when `body` fails `check`, undefined when it passes. */
export function checkBody(check: BodyCheck, body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 'not JSON';
  }
  if (check === 'json') return undefined;
  if (parsed === null || typeof parsed !== 'object') return 'not a GraphQL response object';
  const response = parsed as { data?: unknown; errors?: unknown };
  if (Array.isArray(response.errors) && response.errors.length > 0) return 'has errors';
  if (response.data === null || response.data === undefined) return 'has no data';
  return undefined;
}
