import { sendJob, spawnTs, type Child } from './children.js';
import { Fatal, waitFor } from './wait.js';
import type { WsCommand, WsLoadSpec, WsMessage, WsReport, WsStatus } from './ws-spec.js';

export interface Subscribers {
  readonly child: Child;
  status(seen?: { statuses: readonly string[]; since: number }): Promise<WsStatus>;
  report(): Promise<WsReport>;
  /** Resolves once all connections are acknowledged (with `deferSubscribe`: before any subscription is sent). */
  waitAllConnected(timeoutMs: number): Promise<WsStatus>;
  /** With `deferSubscribe`: sends the subscriptions now. */
  subscribe(): void;
  /**
   * Resolves once every subscription has received its first event (the current status), which proves the
   * gateway holds it; throws on any error or after `timeoutMs`.
   */
  waitAllLive(timeoutMs: number): Promise<WsStatus>;
  stop(): Promise<void>;
}

/** Starts `ws-load.ts` with `spec` as its own process. */
export function startSubscribers(spec: WsLoadSpec): Subscribers {
  const child = spawnTs('subscription load', 'test/bench/ws-load.ts', [], {
    ipc: true,
    // 10,000 subscriptions' events fit well within the default heap; the flag only guards odd machines.
    nodeFlags: ['--max-old-space-size=1024'],
  });
  sendJob(child, spec);
  let failure: string | undefined;
  const waiting = new Map<WsMessage['type'], ((message: WsMessage) => void)[]>();
  child.process.on('message', (message: WsMessage) => {
    if (message.type === 'failed') failure = message.message;
    const queue = waiting.get(message.type);
    queue?.shift()?.(message);
  });

  function ask<T extends WsStatus | WsReport>(
    command: Exclude<WsCommand, { type: 'subscribe' }>,
    timeoutMs = 5000,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!child.process.connected) {
        reject(new Error(`subscription load process is gone:\n${child.output()}`));
        return;
      }
      const queue = waiting.get(command.type) ?? [];
      waiting.set(command.type, queue);
      const answer = (message: WsMessage) => {
        clearTimeout(timer);
        resolve(message as T);
      };
      const timer = setTimeout(() => {
        // Drop the resolver, so that a late answer cannot be taken for the answer to the next question.
        queue.splice(queue.indexOf(answer), 1);
        reject(new Error(`subscription load did not answer "${command.type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      queue.push(answer);
      child.process.send(command);
    });
  }

  /**
   * Polls the status until `done` holds; any error of the load process ends the wait at once. A timeout names the
   * last status, so that a stall tells where it stood (connections acknowledged, subscriptions sent, live).
   */
  const waitUntil = async (what: string, done: (s: WsStatus) => boolean, timeoutMs: number) => {
    let last: WsStatus | undefined;
    try {
      return await waitFor(
        what,
        async () => {
          if (failure !== undefined) throw new Fatal(`subscription load failed: ${failure}`);
          const s = await ask<WsStatus>({ type: 'status' });
          last = s;
          if (s.errors > 0)
            throw new Fatal(`${s.errors} error(s) in the subscription load; first: ${s.firstError ?? '?'}`);
          return done(s) ? s : undefined;
        },
        { timeoutMs, intervalMs: 200 },
      );
    } catch (error) {
      if (error instanceof Fatal || last === undefined) throw error;
      const { open, acked, subscribed, live, completed, closed } = last;
      throw new Error(
        `${(error as Error).message}; last status: ${open} open, ${acked} acknowledged, ${subscribed} subscribed, ` +
          `${live} live, ${completed} completed, ${closed} closed`,
        { cause: error },
      );
    }
  };

  const subscriptions = spec.subscriptions.length;
  return {
    child,
    status: (seen) => ask<WsStatus>({ type: 'status', ...(seen === undefined ? {} : { seen }) }),
    report: () => ask<WsReport>({ type: 'report' }, 120_000),
    waitAllConnected: (timeoutMs) =>
      waitUntil(`${spec.connections} connections to be acknowledged`, (s) => s.acked === spec.connections, timeoutMs),
    subscribe: () => void child.process.send({ type: 'subscribe' } satisfies WsCommand),
    waitAllLive: (timeoutMs) =>
      waitUntil(
        `${subscriptions} subscriptions over ${spec.connections} connections to receive their first event`,
        (s) => s.live === subscriptions,
        timeoutMs,
      ),
    stop: () => child.stop(),
  };
}

/** What a delivery measurement reads from subscribers (s4-fan-out.ts's `pauseAndMeasure`). */
export type SubscriberReadings = Pick<Subscribers, 'status' | 'report'>;

/** Several load processes (one per gateway replica, S7) read as one: counters summed, events merged by key. */
export function combineSubscribers(parts: readonly Subscribers[]): SubscriberReadings {
  return {
    async status(seen) {
      const all = await Promise.all(parts.map((part) => part.status(seen)));
      const sum = (field: keyof Omit<WsStatus, 'type' | 'firstError'>) => all.reduce((n, s) => n + s[field], 0);
      const firstError = all.find((s) => s.firstError !== undefined)?.firstError;
      return {
        type: 'status',
        open: sum('open'),
        acked: sum('acked'),
        subscribed: sum('subscribed'),
        live: sum('live'),
        completed: sum('completed'),
        errors: sum('errors'),
        closed: sum('closed'),
        seen: sum('seen'),
        ...(firstError === undefined ? {} : { firstError }),
      };
    },
    async report() {
      const events: Record<string, (readonly [number, string])[][]> = {};
      for (const part of await Promise.all(parts.map((p) => p.report())))
        for (const [key, lists] of Object.entries(part.events)) (events[key] ??= []).push(...lists);
      return { type: 'report', events };
    },
  };
}
