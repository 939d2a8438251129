import type { WsReport } from './ws-spec.js';

export interface Trigger {
  /** When the status change was requested from the emulator, epoch ms. */
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
}

/**
 * Matches each subscription of a triggered instance with the first event after the trigger that shows
 * the new status. Events for instances that were not triggered are ignored.
 */
export function measureDelivery(report: WsReport, triggers: ReadonlyMap<string, Trigger>): Delivery {
  const latenciesMs: number[] = [];
  let undelivered = 0;
  let subscriptions = 0;
  for (const [key, trigger] of triggers) {
    for (const events of report.events[key] ?? []) {
      subscriptions++;
      const hit = events.find(([t, status]) => t >= trigger.sentAt && trigger.statuses.has(status));
      if (hit) latenciesMs.push(hit[0] - trigger.sentAt);
      else undelivered++;
    }
  }
  return { latenciesMs, undelivered, subscriptions };
}
