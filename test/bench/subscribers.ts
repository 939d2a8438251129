import { spawnTs, type Child } from './children.js';
import { Fatal, waitFor } from './wait.js';
import type { WsCommand, WsLoadSpec, WsMessage, WsReport, WsStatus } from './ws-spec.js';

export interface Subscribers {
  readonly child: Child;
  status(seen?: { statuses: readonly string[]; since: number }): Promise<WsStatus>;
  report(): Promise<WsReport>;
  /**
   * Resolves once every subscription has received its first event (the current status), which proves the
   * gateway holds it; throws on any error or after `timeoutMs`.
   */
  waitAllLive(timeoutMs: number): Promise<WsStatus>;
  stop(): Promise<void>;
}

/** Starts `ws-load.ts` with `spec` as its own process. */
export function startSubscribers(spec: WsLoadSpec): Subscribers {
  const child = spawnTs('subscription load', 'test/bench/ws-load.ts', [JSON.stringify(spec)], {
    ipc: true,
    // 10,000 subscriptions' events fit well within the default heap; the flag only guards odd machines.
    nodeFlags: ['--max-old-space-size=1024'],
  });
  let failure: string | undefined;
  const waiting = new Map<WsMessage['type'], ((message: WsMessage) => void)[]>();
  child.process.on('message', (message: WsMessage) => {
    if (message.type === 'failed') failure = message.message;
    const queue = waiting.get(message.type);
    queue?.shift()?.(message);
  });

  function ask<T extends WsStatus | WsReport>(command: WsCommand, timeoutMs = 30_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!child.process.connected) {
        reject(new Error(`subscription load process is gone:\n${child.output()}`));
        return;
      }
      const timer = setTimeout(() => reject(new Error(`subscription load did not answer "${command.type}"`)), timeoutMs);
      const queue = waiting.get(command.type) ?? [];
      queue.push((message) => {
        clearTimeout(timer);
        resolve(message as T);
      });
      waiting.set(command.type, queue);
      child.process.send(command);
    });
  }

  const subscriptions = spec.subscriptions.length;
  return {
    child,
    status: (seen) => ask<WsStatus>({ type: 'status', ...(seen === undefined ? {} : { seen }) }),
    report: () => ask<WsReport>({ type: 'report' }, 120_000),
    waitAllLive: (timeoutMs) =>
      waitFor(
        `${subscriptions} subscriptions over ${spec.connections} connections to receive their first event`,
        async () => {
          if (failure !== undefined) throw new Fatal(`subscription load failed: ${failure}`);
          const s = await ask<WsStatus>({ type: 'status' });
          if (s.errors > 0) throw new Fatal(`${s.errors} subscription error(s); first: ${s.firstError ?? '?'}`);
          return s.live === subscriptions ? s : undefined;
        },
        { timeoutMs, intervalMs: 200 },
      ),
    stop: () => child.stop(),
  };
}
