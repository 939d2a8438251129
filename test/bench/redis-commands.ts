import { setTimeout as delay } from 'node:timers/promises';
import { startRedisMonitor } from '../helpers/redis-monitor.js';

/** Calls per Redis command (lower-case name). */
export type CommandCalls = ReadonlyMap<string, number>;

/**
 * Counts one line of MONITOR's output: a command a client sent, which is one round trip (on the query path the
 * gateway uses neither pipelines nor MULTI; only a delete after a mutation pipelines: src/redis/shared-finished.ts).
 * Commands a script runs show with the source `lua` and are left out, since they travel inside their EVALSHA;
 * `INFO commandstats` could not tell them apart.
 */
export function countCommand(calls: Map<string, number>, args: readonly string[], source: string): void {
  const name = args[0]?.toLowerCase();
  if (name === undefined || source === 'lua') return;
  calls.set(name, (calls.get(name) ?? 0) + 1);
}

export interface CommandCounter {
  /** Commands clients sent since the counter started, per command. */
  snapshot(): CommandCalls;
  stop(): void;
}

/** Counts every command any client sends to the redis-server on `port`, over a MONITOR connection of its own. */
export async function startCommandCounter(port: number): Promise<CommandCounter> {
  const calls = new Map<string, number>();
  const monitor = await startRedisMonitor(port, ({ args, source }) => countCommand(calls, args, source));
  return { snapshot: () => new Map(calls), stop: () => monitor.stop() };
}

/** `after - before` per command (commands whose difference is 0 left out). */
export function subtractCalls(after: CommandCalls, before: CommandCalls): Map<string, number> {
  const result = new Map<string, number>();
  for (const name of new Set([...after.keys(), ...before.keys()])) {
    const value = (after.get(name) ?? 0) - (before.get(name) ?? 0);
    if (value !== 0) result.set(name, value);
  }
  return result;
}

/** The mean per command of several windows' calls (a background measured more than once). */
export function meanCalls(windows: readonly CommandCalls[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const calls of windows)
    for (const [name, n] of calls) result.set(name, (result.get(name) ?? 0) + n / windows.length);
  return result;
}

/** Every count multiplied by `factor` (a background per millisecond times a window's length). */
export function scaleCalls(calls: CommandCalls, factor: number): Map<string, number> {
  return new Map([...calls].map(([name, n]) => [name, n * factor]));
}

export const totalCalls = (calls: CommandCalls): number => [...calls.values()].reduce((sum, n) => sum + n, 0);

/** `get ×40, evalsha ×3.5`: most calls first, rounded to a tenth. */
export function describeCalls(calls: CommandCalls): string {
  const shown = [...calls].filter(([, n]) => Math.abs(n) >= 0.05).sort(([, a], [, b]) => b - a);
  return shown.length === 0 ? 'none' : shown.map(([name, n]) => `${name} ×${Math.round(n * 10) / 10}`).join(', ');
}

/**
 * The commands clients sent during a window of `windowMs` (every client, so the background of heartbeats and leases
 * included), with `work` run at its start; the window lasts at least `tailMs` past the end of the work, for what the
 * work leaves behind. Its length is the measurement, not a wait for a state: idle windows measure the background
 * per millisecond, which {@link scaleCalls} turns into a window's share.
 */
export async function commandsDuring(
  counter: CommandCounter,
  windowMs: number,
  work: () => Promise<void> = async () => undefined,
  tailMs = 0,
): Promise<{ calls: Map<string, number>; workMs: number; windowMs: number }> {
  const before = counter.snapshot();
  const started = performance.now();
  await work();
  const workMs = performance.now() - started;
  await delay(Math.max(windowMs, workMs + tailMs) - workMs);
  const calls = subtractCalls(counter.snapshot(), before);
  return { calls, workMs, windowMs: performance.now() - started };
}
