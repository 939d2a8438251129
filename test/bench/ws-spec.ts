/** The contract between the orchestrator (`ws-load.ts`'s parent) and the subscription load process. */

export interface WsLoadSpec {
  /** `ws://127.0.0.1:PORT/graphql`. */
  readonly url: string;
  readonly connections: number;
  /** A subscription operation whose first root field's value has a `status` field. */
  readonly query: string;
  /** Subscription `k` goes to connection `k % connections`, so neighbours land on different sockets. */
  readonly subscriptions: readonly { readonly key: string; readonly variables: Readonly<Record<string, unknown>> }[];
  /** Open and initialise the connections, but subscribe only on the `subscribe` command (to measure both apart). */
  readonly deferSubscribe?: boolean;
}

/** Messages the orchestrator sends. */
export type WsCommand =
  | {
      readonly type: 'status';
      /** Count the subscriptions that have seen one of these statuses at or after `since` (a `now()` reading). */
      readonly seen?: { readonly statuses: readonly string[]; readonly since: number };
    }
  | { readonly type: 'report' }
  | { readonly type: 'subscribe' };

export interface WsStatus {
  readonly type: 'status';
  readonly open: number;
  readonly acked: number;
  readonly subscribed: number;
  /** Subscriptions that have received at least one event (the gateway sends the current status first). */
  readonly live: number;
  readonly completed: number;
  readonly errors: number;
  readonly closed: number;
  /** Subscriptions matching the command's `seen`; 0 without it. */
  readonly seen: number;
  readonly firstError?: string;
}

/** Every event each subscription received: `[now() when it arrived, status]` pairs, in order. */
export interface WsReport {
  readonly type: 'report';
  readonly events: Readonly<Record<string, readonly (readonly [number, string])[][]>>;
}

export type WsMessage = WsStatus | WsReport | { readonly type: 'failed'; readonly message: string };

/**
 * Milliseconds on the machine's monotonic clock, with sub-millisecond precision: comparable between processes on one
 * machine, which epoch time read as `performance.timeOrigin + performance.now()` is not. Each process takes its
 * `timeOrigin` from the wall clock when it starts, so a wall-clock step between the starts of two processes (a
 * virtual machine's clock being synchronised) offsets every latency measured across them: in one full run of
 * 2026-12-03 every delivery of S4, S5 and S7, and S7's mutation from one replica to another (about 54 ms otherwise),
 * came out 2.6 s later.
 */
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;
