/**
 * Readiness (`/readyz`): a list of named checks, each of which must pass for the server to take work. The app
 * builds the list (accepting work, the upstream) and callers append their own (`AppOptions.readinessChecks`:
 * "Redis reachable", say), so a new dependency is one more {@link ReadinessCheck}, not an edit here.
 */
import type { ServerResponse } from 'node:http';

/** What one check found. `reason` and `detail` are read by anyone who can reach the port: never a secret. */
export type CheckResult =
  { readonly ok: true; readonly detail?: string } | { readonly ok: false; readonly reason: string };

export interface ReadinessCheck {
  /** The key of this check in the answer's `checks` (`accepting`, `upstream`, `redis`). */
  readonly name: string;
  /**
   * Evaluates the check now. Probes call it every few seconds: answer from what is already known, or bound any
   * I/O well below {@link CHECK_TIMEOUT_MS}. A check that throws or takes longer fails (its error is not shown).
   */
  check(): CheckResult | Promise<CheckResult>;
}

export type ReadinessStatus = 'ready' | 'not-ready' | 'shutting-down';

export interface ReadinessReport {
  readonly status: ReadinessStatus;
  readonly checks: Readonly<Record<string, CheckResult>>;
}

/** Longest a check may take before it counts as failed; orchestrators' probes time out after about a second. */
export const CHECK_TIMEOUT_MS = 1000;

/** The check every server has: it accepts work while it listens and has not begun to stop. */
export function acceptingWorkCheck(state: () => 'starting' | 'listening' | 'stopping'): ReadinessCheck {
  return {
    name: 'accepting',
    check() {
      const now = state();
      if (now === 'listening') return { ok: true };
      return { ok: false, reason: now === 'stopping' ? 'shutting down' : 'not listening yet' };
    },
  };
}

/** Runs every check at once; the server is ready when all pass. */
export async function evaluateReadiness(
  checks: readonly ReadinessCheck[],
  { stopping }: { stopping: boolean },
): Promise<ReadinessReport> {
  const results = await Promise.all(checks.map(runCheck));
  const ready = results.every((r) => r.ok);
  return {
    status: ready ? 'ready' : stopping ? 'shutting-down' : 'not-ready',
    checks: Object.fromEntries(checks.map((c, i) => [c.name, results[i]!])),
  };
}

async function runCheck(readinessCheck: ReadinessCheck): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ ok: false, reason: `no result within ${CHECK_TIMEOUT_MS} ms` }),
      CHECK_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([Promise.resolve().then(() => readinessCheck.check()), timeout]);
  } catch (error) {
    // The error's message may hold a connection string (a Redis URL with its password): only its class is shown.
    return { ok: false, reason: `the check failed (${error instanceof Error ? error.name : typeof error})` };
  } finally {
    clearTimeout(timer);
  }
}

/** Answers `/readyz`: 200 when ready, else 503, with the report as JSON either way. */
export async function answerReadiness(
  res: ServerResponse,
  checks: readonly ReadinessCheck[],
  state: { stopping: boolean },
): Promise<void> {
  const report = await evaluateReadiness(checks, state);
  res.writeHead(report.status === 'ready' ? 200 : 503, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
  });
  res.end(JSON.stringify(report));
}
