/**
 * Whether the upstream works with the server's credential: the start-up check, and the `upstream` readiness
 * check fed by every call the client makes (an {@link UpstreamObserver}).
 *
 * Only a successful call proves the credential works: it reached the upstream, which accepted the token, found
 * the account and let the token read it. A 401 or 403 proves the opposite. Nothing else counts either way: a 404
 * may be Cloudflare's "no route" for an account id that does not exist, answered without saying whether the
 * token is good (docs/upstream-contract.md §1.2, code 7003); a 400 may be the edge refusing a malformed header
 * before any authentication; a 429 may be counted before authentication; a 5xx or a network failure says the
 * upstream is in trouble, not that the credential is bad.
 */
import type { UpstreamConfig } from '../config.js';
import type { Logger } from '../logger.js';
import {
  AbortedError,
  AuthenticationError,
  NotFoundError,
  UnavailableError,
  UpstreamError,
  UpstreamProtocolError,
  UpstreamRateLimitedError,
} from '../upstream/errors.js';
import type { UpstreamCallEnd, UpstreamCallObserver, UpstreamObserver } from '../upstream/observer.js';
import type { WorkflowsApi } from '../upstream/types.js';
import type { CheckResult, ReadinessCheck } from './readiness.js';

/**
 * How long a successful answer keeps the server ready. Past half of it, a readiness probe starts one refresh
 * call (the start-up check's), so an idle server stays ready at a cost of at most two requests a minute, and
 * only while something probes it.
 */
export const UPSTREAM_ANSWER_MAX_AGE_MS = 60_000;

/** Waits between start-up check attempts while the upstream cannot be reached: doubling from the first. */
export const STARTUP_RETRY_DELAYS = { firstMs: 1000, maxMs: 30_000 } as const;

/**
 * `passed`: the upstream accepted the server's credential. `failed`: it refused it, or answered in a way only a
 * configuration change can fix (`problem` names the variable to fix; it holds no token). An unreachable
 * upstream is neither: the check keeps retrying, and the server stays not ready.
 */
export type StartupCheckOutcome =
  | { readonly status: 'passed' }
  | { readonly status: 'failed'; readonly problem: string }
  | { readonly status: 'skipped'; readonly why: string };

export interface UpstreamHealthOptions {
  readonly logger: Logger;
  /** For messages: where the upstream is and which account the token should reach. */
  readonly upstream: Pick<UpstreamConfig, 'baseUrl' | 'accountId'>;
  readonly now?: () => number;
  /** @default {@link UPSTREAM_ANSWER_MAX_AGE_MS} */
  readonly maxAgeMs?: number;
  /** @default {@link STARTUP_RETRY_DELAYS} */
  readonly retryDelays?: { readonly firstMs: number; readonly maxMs: number };
}

export interface UpstreamHealth {
  /** Told of every upstream call: pass it to `createUpstream`. */
  readonly observer: UpstreamObserver;
  /** The `upstream` readiness check. */
  readonly check: ReadinessCheck;
  /**
   * Runs the start-up check with the server's credential (`GET /workflows?per_page=1`, one request through the
   * normal client, at background priority), again and again while the upstream cannot be reached. Resolves once
   * it passed (or another call succeeded) or failed for good.
   */
  start(api: WorkflowsApi): Promise<StartupCheckOutcome>;
  /** Ends retries and refreshes (shutdown). */
  stop(): void;
}

type Startup =
  | { readonly state: 'idle' | 'checking' | 'passed' }
  | { readonly state: 'retrying'; readonly reason: string }
  | { readonly state: 'failed'; readonly reason: string };

interface Noted {
  readonly at: number;
  readonly reason: string;
}

export function createUpstreamHealth(options: UpstreamHealthOptions): UpstreamHealth {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? UPSTREAM_ANSWER_MAX_AGE_MS;
  const delays = options.retryDelays ?? STARTUP_RETRY_DELAYS;

  let lastAnswerAt: number | undefined;
  /** Orders answers and refusals that share a millisecond. */
  let sequence = 0;
  let lastAnswerSeq = 0;
  /** The last refusal of the server's own credential. */
  let refusal: (Noted & { readonly seq: number }) | undefined;
  /** The last failure that says the upstream is in trouble (for the reason shown once answers stop). */
  let trouble: Noted | undefined;
  let startup: Startup = { state: 'idle' };
  let api: WorkflowsApi | undefined;
  let settle: ((outcome: StartupCheckOutcome) => void) | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let refreshing = false;
  let lastRefreshAt = -Infinity;
  let stopped = false;

  const pass = () => {
    if (startup.state === 'passed' || startup.state === 'failed') return;
    clearTimeout(retryTimer);
    startup = { state: 'passed' };
    logger.info(`start-up check passed: the upstream accepted the token for account ${options.upstream.accountId}`);
    settle?.({ status: 'passed' });
  };

  // One hooks object for every call: the client calls it per call and per attempt, so nothing is allocated.
  const hooks: UpstreamCallObserver = {
    attemptEnded() {},
    ended(end: UpstreamCallEnd) {
      const { error } = end;
      if (error === undefined) {
        lastAnswerAt = now();
        lastAnswerSeq = ++sequence;
        // Another call's success ends the retries; the start-up call itself settles once its promise does.
        if (startup.state === 'retrying') pass();
      } else if (error instanceof AuthenticationError) {
        // A client's own token (AUTH_MODE=cloudflare-token) is the client's business: it must never make the server not ready.
        if (error.credentialSource === 'server') refusal = { at: now(), seq: ++sequence, reason: publicReason(error) };
      } else if (
        error instanceof UnavailableError ||
        error instanceof UpstreamProtocolError ||
        error instanceof UpstreamRateLimitedError
      ) {
        trouble = { at: now(), reason: publicReason(error) };
      }
    },
  };

  const probe = (target: WorkflowsApi) => target.listWorkflows({ perPage: 1 }, { priority: 'background' });

  function attempt(delayMs: number): void {
    if (stopped || !api) return;
    startup = startup.state === 'idle' ? { state: 'checking' } : startup;
    probe(api).then(pass, (error: unknown) => {
      if (stopped || startup.state === 'passed') return;
      const verdict = judge(error, options.upstream);
      if (verdict.fatal) {
        startup = { state: 'failed', reason: verdict.reason };
        settle?.({ status: 'failed', problem: verdict.problem });
        return;
      }
      const retryAfterMs = error instanceof UpstreamRateLimitedError ? error.retryAfterMs : 0;
      const waitMs = Math.max(delayMs, retryAfterMs);
      startup = { state: 'retrying', reason: verdict.reason };
      logger.warn(
        `start-up check: ${verdict.problem}; retrying in ${Math.ceil(waitMs / 1000)} s (/readyz answers 503 until the upstream answers)`,
      );
      retryTimer = setTimeout(() => attempt(Math.min(delayMs * 2, delays.maxMs)), waitMs);
      retryTimer.unref();
    });
  }

  /** One refresh call at a time, at most one per half window, and none while the start-up check still runs. */
  function refresh(): void {
    const at = now();
    if (stopped || !api || refreshing || startup.state === 'checking' || startup.state === 'retrying') return;
    if (at - lastRefreshAt < maxAgeMs / 2) return;
    refreshing = true;
    lastRefreshAt = at;
    // Its outcome reaches the state through the observer, like any other call's.
    probe(api)
      .catch(() => undefined)
      .finally(() => (refreshing = false));
  }

  function check(): CheckResult {
    if (refusal && refusal.seq > lastAnswerSeq) {
      refresh();
      return { ok: false, reason: refusal.reason };
    }
    if (lastAnswerAt === undefined) {
      if (startup.state === 'failed') refresh();
      return { ok: false, reason: startupReason(startup) };
    }
    const ageMs = now() - lastAnswerAt;
    if (ageMs > maxAgeMs / 2) refresh();
    if (ageMs > maxAgeMs) {
      const last = trouble && trouble.at > lastAnswerAt ? `; the last failure: ${trouble.reason}` : '';
      return { ok: false, reason: `no successful upstream answer for ${Math.floor(ageMs / 1000)} s${last}` };
    }
    return { ok: true, detail: `the last successful answer was ${Math.floor(ageMs / 1000)} s ago` };
  }

  return {
    observer: { callStarted: () => hooks, deduplicated() {} },
    check: { name: 'upstream', check },
    start(target) {
      api = target;
      const outcome = new Promise<StartupCheckOutcome>((resolve) => (settle = resolve));
      // A call may already have succeeded (none does before listening, but an embedder may call start late).
      if (lastAnswerAt !== undefined) pass();
      else attempt(delays.firstMs);
      return outcome;
    },
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
    },
  };
}

function startupReason(startup: Startup): string {
  switch (startup.state) {
    case 'idle':
    case 'checking':
      return 'waiting for the start-up check';
    case 'retrying':
      return `the start-up check could not reach the upstream (${startup.reason}); retrying`;
    case 'failed':
      return `the start-up check failed: ${startup.reason}`;
    case 'passed':
      return 'waiting for an upstream answer';
  }
}

/**
 * What `/readyz` may say about a failed call. It answers anyone who reaches the port, so it says only our own
 * wording, never Cloudflare's messages (they can quote the account id) nor, of course, a token.
 */
function publicReason(error: UpstreamError): string {
  if (error instanceof AuthenticationError) {
    return `the upstream refused the server's token (HTTP ${error.status ?? '?'}): see the start-up log, CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID`;
  }
  // Transport failures carry our own wording only (src/upstream/classify.ts, errorFromTransport).
  if (error.status === null) return error.message;
  return `${error.code} (HTTP ${error.status})`;
}

interface Verdict {
  /** Whether only a configuration change can fix it (else: retry). */
  readonly fatal: boolean;
  /** For the start-up log line: the problem and the variable to fix. Never a token. */
  readonly problem: string;
  /** For `/readyz`. */
  readonly reason: string;
}

/** Judges a failed start-up check: which problem it is, and which variable fixes it. */
function judge(error: unknown, upstream: Pick<UpstreamConfig, 'baseUrl' | 'accountId'>): Verdict {
  if (!(error instanceof UpstreamError)) {
    const name = error instanceof Error ? error.name : typeof error;
    return { fatal: true, problem: `the check failed unexpectedly (${name})`, reason: `unexpected failure (${name})` };
  }
  // The client's messages hold Cloudflare's error entries with the token redacted (src/upstream/classify.ts).
  const said = error.message;
  const reason = publicReason(error);
  if (error instanceof AuthenticationError) {
    const forbidden = error.status === 403 || error.errors.some((e) => e.code === 10000);
    return {
      fatal: true,
      reason,
      problem: forbidden
        ? `the token cannot read account ${upstream.accountId} (${said}). Check CLOUDFLARE_ACCOUNT_ID, and that ` +
          'CLOUDFLARE_API_TOKEN was issued for this account with a Workers Scripts read permission'
        : `invalid token: the upstream refused CLOUDFLARE_API_TOKEN (${said}). Set CLOUDFLARE_API_TOKEN to a valid Cloudflare API token`,
    };
  }
  if (error instanceof NotFoundError) {
    return {
      fatal: true,
      reason: 'account not found (HTTP 404): see the start-up log and CLOUDFLARE_ACCOUNT_ID',
      problem:
        `account not found: ${upstream.accountId} (${said}). Check CLOUDFLARE_ACCOUNT_ID ` +
        `(and that CLOUDFLARE_BASE_URL, ${upstream.baseUrl}, is the v4 API)`,
    };
  }
  if (error instanceof UpstreamRateLimitedError) {
    return { fatal: false, reason, problem: `the upstream is rate limiting this credential (${said})` };
  }
  if (error instanceof UnavailableError || error instanceof AbortedError) {
    return {
      fatal: false,
      reason,
      problem: `upstream unreachable at CLOUDFLARE_BASE_URL (${upstream.baseUrl}): ${said}`,
    };
  }
  return {
    fatal: true,
    reason,
    problem:
      `the upstream at CLOUDFLARE_BASE_URL (${upstream.baseUrl}) refused the check (${said}). Check ` +
      'CLOUDFLARE_BASE_URL, CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN',
  };
}
