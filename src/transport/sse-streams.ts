/** Why a reservation was refused: which cap, and when its oldest reservation expires (so a slot frees up). */
export interface ReservationRefusal {
  readonly scope: 'client' | 'server';
  readonly limit: number;
  /** Whole seconds until the oldest reservation counted against this cap expires, at least 1. */
  readonly retryAfterS: number;
}

export interface StreamLimits {
  /** How long a reserved stream may wait to be opened before it is dropped. */
  readonly reservationTimeoutMs: number;
  /** Reserved, unopened streams per client (a principal, or an address without authentication). */
  readonly maxReservationsPerClient: number;
  /** Reserved, unopened streams on the whole server. */
  readonly maxReservations: number;
  /** Subscriptions one stream may hold (MAX_SUBSCRIPTIONS_PER_CONNECTION, as on a graphql-ws socket). */
  readonly maxSubscriptionsPerStream: number;
}

/**
 * The graphql-sse single-connection streams this server knows, by token: which client reserved each, whether
 * it is open, and the subscriptions it carries. graphql-sse keeps its own stream objects, without limits or
 * expiry; this registry is what the transport (src/transport/sse.ts) checks before handing it a request.
 *
 * A reserved stream that is not yet open costs memory but holds no connection, so reservations are the ones
 * that are capped and that expire; an open stream lives as long as its connection, like a WebSocket.
 */
export interface StreamRegistry {
  /**
   * Claims a reservation for `token` at once (before any await, so that pipelined PUTs see each other), or
   * says which cap refuses it. A claimed reservation expires after the timeout unless {@link open}ed, and
   * `onExpire` is told.
   */
  reserve(token: string, client: string): ReservationRefusal | undefined;
  has(token: string): boolean;
  isOpen(token: string): boolean;
  /** The stream's connection arrived: it no longer counts as a reservation and no longer expires. */
  open(token: string): void;
  /** Forgets the stream (its connection ended, or graphql-sse did not register it). */
  drop(token: string): void;
  /**
   * Counts a subscription on the stream, or returns false when the stream already holds
   * `maxSubscriptionsPerStream` (or is gone). Synchronous, so that pipelined operations see each other.
   */
  addSubscription(token: string, operationId: string): boolean;
  removeSubscription(token: string, operationId: string): void;
  /** Reserved, unopened streams, and all known streams. */
  stats(): { reserved: number; streams: number };
  /** Clears every expiry timer. */
  close(): void;
}

interface StreamEntry {
  readonly client: string;
  readonly expiresAt: number;
  /** Set while the stream is reserved and not yet open. */
  timer: NodeJS.Timeout | undefined;
  readonly subscriptions: Set<string>;
}

export function createStreamRegistry(limits: StreamLimits, onExpire: (token: string) => void): StreamRegistry {
  const streams = new Map<string, StreamEntry>();
  // Tokens of reserved, unopened streams in the order they were reserved, so the first is the next to expire.
  const reserved = new Set<string>();
  const reservedByClient = new Map<string, Set<string>>();

  const unreserve = (token: string, entry: StreamEntry): void => {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    reserved.delete(token);
    const mine = reservedByClient.get(entry.client);
    mine?.delete(token);
    if (mine?.size === 0) reservedByClient.delete(entry.client);
  };

  const refusal = (scope: 'client' | 'server', limit: number, tokens: Set<string>): ReservationRefusal => {
    const [oldest] = tokens;
    const expiresAt = (oldest === undefined ? undefined : streams.get(oldest)?.expiresAt) ?? Date.now();
    return { scope, limit, retryAfterS: Math.max(1, Math.ceil((expiresAt - Date.now()) / 1000)) };
  };

  return {
    reserve(token, client) {
      const mine = reservedByClient.get(client) ?? new Set<string>();
      if (mine.size >= limits.maxReservationsPerClient) {
        return refusal('client', limits.maxReservationsPerClient, mine);
      }
      if (reserved.size >= limits.maxReservations) return refusal('server', limits.maxReservations, reserved);
      const entry: StreamEntry = {
        client,
        expiresAt: Date.now() + limits.reservationTimeoutMs,
        timer: undefined,
        subscriptions: new Set(),
      };
      entry.timer = setTimeout(() => {
        if (streams.get(token) !== entry) return;
        unreserve(token, entry);
        streams.delete(token);
        onExpire(token);
      }, limits.reservationTimeoutMs);
      // A pending reservation must not keep the process alive.
      entry.timer.unref();
      streams.set(token, entry);
      reserved.add(token);
      mine.add(token);
      reservedByClient.set(client, mine);
      return undefined;
    },
    has: (token) => streams.has(token),
    isOpen: (token) => {
      const entry = streams.get(token);
      return entry !== undefined && entry.timer === undefined;
    },
    open(token) {
      const entry = streams.get(token);
      if (entry) unreserve(token, entry);
    },
    drop(token) {
      const entry = streams.get(token);
      if (!entry) return;
      unreserve(token, entry);
      streams.delete(token);
    },
    addSubscription(token, operationId) {
      const subscriptions = streams.get(token)?.subscriptions;
      if (!subscriptions || subscriptions.size >= limits.maxSubscriptionsPerStream) return false;
      subscriptions.add(operationId);
      return true;
    },
    removeSubscription(token, operationId) {
      streams.get(token)?.subscriptions.delete(operationId);
    },
    stats: () => ({ reserved: reserved.size, streams: streams.size }),
    close() {
      for (const entry of streams.values()) clearTimeout(entry.timer);
    },
  };
}
