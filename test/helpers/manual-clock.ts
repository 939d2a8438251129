/** A clock for the upstream client that only moves when the client "sleeps" (or a test calls `advance`). */
export interface ManualClock {
  /** Every wait the client asked for, in order, in ms. */
  readonly sleeps: number[];
  now(): number;
  advance(ms: number): void;
  sleep(ms: number): Promise<void>;
}

/** A {@link ManualClock} starting at `start`: waits are recorded instead of spent. */
export function manualClock(start = Date.parse('2026-01-01T00:00:00Z')): ManualClock {
  const sleeps: number[] = [];
  let now = start;
  return {
    sleeps,
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
    sleep: (ms: number) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}
