import type { WsReport } from './ws-spec.js';

export interface Trigger {
  /** When the status change was requested from the emulator, as `now()` (ws-spec.ts) read it. */
  readonly sentAt: number;
  /** Statuses (GraphQL enum names) that show the change arrived, such as WAITING_FOR_PAUSE and PAUSED. */
  readonly statuses: ReadonlySet<string>;
}

export interface Delivery {
  /** One latency per subscription that saw its change, ms from `sentAt`. */
  readonly latenciesMs: readonly number[];
  /** Subscriptions of a triggered instance that never saw the change. */
  readonly undelivered: number;
  readonly subscriptions: number;
  /** Per triggered instance, the latency of its first subscriber: how long the gateway took to notice. */
  readonly firstMs: readonly number[];
  /** Per triggered instance, last minus first subscriber's arrival: how long the fan-out took. */
  readonly spreadMs: readonly number[];
  /** Events the subscriptions of triggered instances received from their trigger on (a change may show as several). */
  readonly events: number;
}

/**
 * Matches each subscription of a triggered instance with the first event after the trigger that shows
 * the new status. Events for instances that were not triggered are ignored.
 */
export function measureDelivery(report: WsReport, triggers: ReadonlyMap<string, Trigger>): Delivery {
  const latenciesMs: number[] = [];
  let undelivered = 0;
  let subscriptions = 0;
  const firstMs: number[] = [];
  const spreadMs: number[] = [];
  let received = 0;
  for (const [key, trigger] of triggers) {
    let first = Infinity;
    let last = -Infinity;
    for (const events of report.events[key] ?? []) {
      subscriptions++;
      received += events.filter(([t]) => t >= trigger.sentAt).length;
      const hit = events.find(([t, status]) => t >= trigger.sentAt && trigger.statuses.has(status));
      if (!hit) {
        undelivered++;
        continue;
      }
      const latency = hit[0] - trigger.sentAt;
      latenciesMs.push(latency);
      first = Math.min(first, latency);
      last = Math.max(last, latency);
    }
    if (first !== Infinity) {
      firstMs.push(first);
      spreadMs.push(last - first);
    }
  }
  return { latenciesMs, undelivered, subscriptions, firstMs, spreadMs, events: received };
}
