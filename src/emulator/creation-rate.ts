/**
 * Opt-in instance creation rate (docs/upstream-contract.md §1.4 and §4.4): production allows 100 creations per
 * second per workflow and 300 per account; every create, every item of a batch and every restart counts.
 */
import { ApiError, CODES } from './errors.js';

export interface CreationRateLimit {
  /** Creations per second per workflow. Production: 100. */
  perWorkflow: number;
  /** Creations per second per account. Production: 300 (Workers Paid), 100 (Free). */
  perAccount: number;
}

export interface CreationLimiter {
  /** Counts `n` creations, all or none; throws a 429 ApiError with `Retry-After` when they do not fit. */
  take(accountId: string, workflowName: string, n: number): void;
}

const WINDOW_MS = 1000;

/** One-second windows of the emulated clock `now`, so a manual clock makes the limit deterministic. */
export function createCreationLimiter(limits: CreationRateLimit, now: () => number): CreationLimiter {
  for (const key of ['perWorkflow', 'perAccount'] as const) {
    if (!(Number.isInteger(limits[key]) && limits[key] >= 1))
      throw new RangeError(`creationRateLimit.${key} must be a positive integer (got ${limits[key]})`);
  }
  const windows = new Map<string, { start: number; used: number }>();
  const windowOf = (key: string, at: number) => {
    let window = windows.get(key);
    if (!window || at >= window.start + WINDOW_MS) {
      window = { start: at, used: 0 };
      windows.set(key, window);
    }
    return window;
  };
  return {
    take(accountId, workflowName, n) {
      const at = now();
      const account = windowOf(`a:${accountId}`, at);
      const workflow = windowOf(`w:${accountId}/${workflowName}`, at);
      const refuse = (window: { start: number }, what: string) => {
        const retryAfterS = Math.max(1, Math.ceil((window.start + WINDOW_MS - at) / 1000));
        return new ApiError(
          429,
          CODES.rateLimited,
          `workflows.api.error.instance.rate_limited: ${what}; retry in ${retryAfterS} s`,
          { 'retry-after': String(retryAfterS) },
        );
      };
      if (workflow.used + n > limits.perWorkflow)
        throw refuse(
          workflow,
          `more than ${limits.perWorkflow} instance creations per second for workflow "${workflowName}"`,
        );
      if (account.used + n > limits.perAccount)
        throw refuse(account, `more than ${limits.perAccount} instance creations per second for this account`);
      workflow.used += n;
      account.used += n;
    },
  };
}
