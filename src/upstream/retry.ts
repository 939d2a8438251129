/** When and how long to wait before sending a failed request again. */

export interface RetryPolicy {
  /** Retries after the first attempt (config `maxRetries`). */
  readonly maxRetries: number;
  /** First backoff ceiling; attempt n waits a random time in [0, base * 2^n]. @default 200 */
  readonly baseDelayMs: number;
  /** Largest backoff ceiling. @default 5000 */
  readonly maxDelayMs: number;
  /** Longest `Retry-After` we wait for; beyond it the error surfaces with `retryAfterMs`. @default 10000 */
  readonly retryAfterCapMs: number;
  /** Share of recent requests that may be retries. @default 0.2 */
  readonly budgetRatio: number;
  /** Retries always allowed per `budgetWindowMs`, however few requests were made. @default 3 */
  readonly budgetMinRetries: number;
  /** @default 10000 */
  readonly budgetWindowMs: number;
}

export const DEFAULT_RETRY_POLICY: Omit<RetryPolicy, 'maxRetries'> = {
  baseDelayMs: 200,
  maxDelayMs: 5000,
  retryAfterCapMs: 10_000,
  budgetRatio: 0.2,
  budgetMinRetries: 3,
  budgetWindowMs: 10_000,
};

/** Exponential backoff with full jitter: a uniform wait in [0, min(max, base * 2^retry)]. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(random() * ceiling);
}

/** Parses `Retry-After` (delay seconds or an HTTP date) into milliseconds; null when absent or invalid. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed === '') return null;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * Caps retries to a share of recent traffic so that, during an outage, retries cannot multiply the load:
 * every request deposits `budgetRatio` of a retry, time deposits `budgetMinRetries` per window, and each
 * retry withdraws one. The balance is capped, so a quiet period cannot bank a retry storm.
 */
export class RetryBudget {
  private balance: number;
  private updatedAt: number;
  private readonly max: number;
  private readonly perMs: number;

  constructor(
    private readonly policy: RetryPolicy,
    private readonly now: () => number = Date.now,
  ) {
    this.max = Math.max(policy.budgetMinRetries, 1) * 2;
    this.balance = policy.budgetMinRetries;
    this.perMs = policy.budgetMinRetries / policy.budgetWindowMs;
    this.updatedAt = now();
  }

  private refill(): void {
    const now = this.now();
    this.balance = Math.min(this.max, this.balance + (now - this.updatedAt) * this.perMs);
    this.updatedAt = now;
  }

  /** Called once per logical request (not per attempt). */
  deposit(): void {
    this.refill();
    this.balance = Math.min(this.max, this.balance + this.policy.budgetRatio);
  }

  /** True (and one retry spent) when a retry is allowed now. */
  tryWithdraw(): boolean {
    this.refill();
    if (this.balance < 1) return false;
    this.balance -= 1;
    return true;
  }
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
