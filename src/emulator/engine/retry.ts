import { parseDuration, type Duration } from '../duration.js';
import type { Backoff, LoggedStepConfig } from '../types.js';
import type { WorkflowStepConfig } from './model.js';

export interface StepDefaults {
  /** @default { limit: 5, delay: 10000, backoff: 'exponential' } (production; the local engine uses delay 1000) */
  retries: { limit: number; delay: Duration; backoff: Backoff };
  /** @default "10 minutes" */
  timeout: Duration;
}

export const PRODUCTION_STEP_DEFAULTS: StepDefaults = {
  retries: { limit: 5, delay: 10_000, backoff: 'exponential' },
  timeout: '10 minutes',
};

const BACKOFFS: ReadonlySet<string> = new Set(['constant', 'linear', 'exponential']);
const MAX_RETRIES = 10_000;

/** Merges a step's config over the defaults and validates it; throws a TypeError on bad values. */
export function resolveStepConfig(config: WorkflowStepConfig | undefined, defaults: StepDefaults): LoggedStepConfig {
  const retries = { ...defaults.retries, ...(config?.retries ?? {}) };
  const timeout = config?.timeout ?? defaults.timeout;
  if (!Number.isInteger(retries.limit) || retries.limit < 0 || retries.limit > MAX_RETRIES) {
    throw new TypeError(
      `retries.limit must be an integer between 0 and ${MAX_RETRIES} (got ${JSON.stringify(retries.limit)})`,
    );
  }
  if (parseDuration(retries.delay) === undefined)
    throw new TypeError(`retries.delay is not a valid duration (${JSON.stringify(retries.delay)})`);
  if (!BACKOFFS.has(retries.backoff))
    throw new TypeError(
      `retries.backoff must be constant, linear or exponential (got ${JSON.stringify(retries.backoff)})`,
    );
  if (parseDuration(timeout) === undefined)
    throw new TypeError(`timeout is not a valid duration (${JSON.stringify(timeout)})`);
  const logged: LoggedStepConfig = { retries, timeout };
  if (config?.sensitive !== undefined) {
    if (config.sensitive !== 'output')
      throw new TypeError(`sensitive must be "output" (got ${JSON.stringify(config.sensitive)})`);
    logged.sensitive = 'output';
  }
  return logged;
}

/** Delay before the retry that follows `failedAttempts` failures (1-based), per the local engine's formula. */
export function retryDelayMs(config: LoggedStepConfig, failedAttempts: number): number {
  const base = parseDuration(config.retries.delay) ?? 0;
  switch (config.retries.backoff) {
    case 'constant':
      return base;
    case 'linear':
      return base * failedAttempts;
    case 'exponential':
      return base * 2 ** (failedAttempts - 1);
  }
}
