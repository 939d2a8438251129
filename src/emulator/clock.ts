/**
 * Emulated time. Every timer of the engine goes through a {@link Clock}, so tests can drive time by hand
 * and `EMULATOR_TIME_SCALE` can make a day of workflow time pass in minutes.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Emulated epoch milliseconds. */
  now(): number;
  /** Calls `fn` once emulated time reaches `at` (epoch ms). Past times fire as soon as possible. */
  at(at: number, fn: () => void): TimerHandle;
  /** Cancels every pending timer; the clock stays usable. */
  dispose(): void;
}

/** Manual clock: time only moves through {@link ManualClock.advance}. */
export interface ManualClock extends Clock {
  readonly kind: 'manual';
  /**
   * Moves time forward by `ms`, firing due timers in order. Before each timer and at the end it awaits
   * `settle` (the engine's "no workflow code is running" barrier), so callers observe a quiet system.
   */
  advance(ms: number, settle: () => Promise<void>): Promise<void>;
}

export interface RealClock extends Clock {
  readonly kind: 'real';
}

// setTimeout takes at most a signed 32-bit delay; longer waits re-arm when the short timer fires.
const MAX_TIMEOUT = 2 ** 31 - 1;

/** Wall-clock time sped up by `timeScale` (emulated seconds per real second). */
export function createRealClock(timeScale = 1): RealClock {
  if (!(timeScale > 0) || !Number.isFinite(timeScale))
    throw new RangeError(`timeScale must be a positive number (got ${timeScale})`);
  const realStart = Date.now();
  const now = () => Math.floor(realStart + (Date.now() - realStart) * timeScale);
  const pending = new Set<NodeJS.Timeout>();
  return {
    kind: 'real',
    now,
    at(at, fn) {
      let handle: NodeJS.Timeout;
      let cancelled = false;
      const arm = () => {
        const delay = Math.min(Math.max(0, Math.ceil((at - now()) / timeScale)), MAX_TIMEOUT);
        handle = setTimeout(() => {
          pending.delete(handle);
          if (cancelled) return;
          if (now() < at) arm();
          else fn();
        }, delay);
        // An idle emulator must not keep the process alive on its own: the http server does that.
        handle.unref();
        pending.add(handle);
      };
      arm();
      return {
        cancel() {
          cancelled = true;
          clearTimeout(handle);
          pending.delete(handle);
        },
      };
    },
    dispose() {
      for (const handle of pending) clearTimeout(handle);
      pending.clear();
    },
  };
}

interface ManualTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** A clock that starts at `start` (epoch ms) and never moves on its own. */
export function createManualClock(start = Date.now()): ManualClock {
  let current = start;
  let seq = 0;
  let timers: ManualTimer[] = [];
  const nextDue = (limit: number): ManualTimer | undefined => {
    let best: ManualTimer | undefined;
    for (const timer of timers) {
      if (timer.cancelled || timer.at > limit) continue;
      if (!best || timer.at < best.at || (timer.at === best.at && timer.seq < best.seq)) best = timer;
    }
    return best;
  };
  let advancing: Promise<void> = Promise.resolve();
  return {
    kind: 'manual',
    now: () => current,
    at(at, fn) {
      const timer: ManualTimer = { at, seq: seq++, fn, cancelled: false };
      timers.push(timer);
      return {
        cancel() {
          timer.cancelled = true;
        },
      };
    },
    advance(ms, settle) {
      if (!(ms >= 0) || !Number.isFinite(ms))
        return Promise.reject(new RangeError(`advance() needs a non-negative number of ms (got ${ms})`));
      // Concurrent advances run one after the other, so time never moves backwards.
      const run = async () => {
        const target = current + ms;
        await settle();
        for (;;) {
          const timer = nextDue(target);
          if (!timer) break;
          timer.cancelled = true;
          timers = timers.filter((t) => !t.cancelled);
          current = Math.max(current, timer.at);
          timer.fn();
          await settle();
        }
        current = Math.max(current, target);
        await settle();
      };
      advancing = advancing.then(run, run);
      return advancing;
    },
    dispose() {
      for (const timer of timers) timer.cancelled = true;
      timers = [];
    },
  };
}
