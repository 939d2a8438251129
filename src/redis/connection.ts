/**
 * The Redis connection of a replica (ioredis), shared by every module of src/redis/. It fails fast while Redis is
 * unreachable (no offline queue, no retried commands, a short command timeout), so that callers fall back at
 * once instead of queueing work, and reconnects in the background with a capped backoff. An outage is logged once,
 * through our logger, when it begins, and once when it ends; ioredis itself never writes to the console.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { redactRedisUrl } from '../config.js';
import type { Logger } from '../logger.js';

/** `connecting`: not reached yet since start; `up`: commands succeed; `down`: an outage is under way. */
export type RedisStatus = 'connecting' | 'up' | 'down';

/**
 * Longest a command may take before it counts as failed. A timeout alone does not make an outage: a PING confirms
 * it (one slow command, such as a big script behind a `DEBUG SLEEP`, is a failure of that call only).
 */
export const COMMAND_TIMEOUT_MS = 1500;
/** Longest wait between two reconnection attempts; the first ones come sooner (50 ms, doubling). */
export const RECONNECT_MAX_MS = 2000;
const CONNECT_TIMEOUT_MS = 2000;

export interface RedisConnection {
  /** For commands: each fails at once while Redis is unreachable. */
  readonly client: Redis;
  /** A second connection for SUBSCRIBE (a subscribed connection runs no other command); made on first use. */
  subscriber(): Redis;
  status(): RedisStatus;
  /** Why the current outage began (an error code or class, never the URL nor a password); undefined while up. */
  reason(): string | undefined;
  /** Calls `listener` on every change between `up` and `down`; returns a function that removes it. */
  onStatus(listener: (status: 'up' | 'down') => void): () => void;
  /**
   * Reports a failed command. A reply error (OOM, WRONGTYPE, a script's error) is that call's failure only; a timeout
   * begins an outage once a PING times out too (a hung Redis whose socket still looks open); any other error (the
   * socket is closed or not writable) begins one at once.
   */
  failed(error: unknown): void;
  /** Reports a command that succeeded: an outage noticed through {@link failed} ends. */
  succeeded(): void;
  /** Starts connecting; resolves true once Redis answers, false when it has not within `timeoutMs` (it keeps trying). */
  connect(timeoutMs: number): Promise<boolean>;
  /** Closes both connections; no outage is logged for it. Safe to call twice. */
  close(): Promise<void>;
}

export interface RedisConnectionOptions {
  readonly url: string;
  readonly logger: Logger;
  /** What an outage means for this server, appended to the warning (what falls back to what). */
  readonly consequence: () => string;
}

/** An error's code (ECONNREFUSED, ETIMEDOUT) or class, without its message: a message may quote an address or URL. */
function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) return code;
    if (/timed out/i.test(error.message)) return 'command timed out';
    if (/^[A-Z]+ /.test(error.message)) return error.message.split(' ', 1)[0]!;
    return error.name;
  }
  return typeof error;
}

/** Loads ioredis (only servers with `REDIS_URL` ever do) and makes the connection; it connects on {@link RedisConnection.connect}. */
export async function createRedisConnection({
  url,
  logger,
  consequence,
}: RedisConnectionOptions): Promise<RedisConnection> {
  const { Redis } = await import('ioredis');
  const options: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.max(0, attempt - 1), RECONNECT_MAX_MS),
    connectionName: 'wfgql',
  };
  const client = new Redis(url, options);
  let subscriber: Redis | undefined;
  let status: RedisStatus = 'connecting';
  let reason: string | undefined;
  let closing = false;
  /** A PING confirming a command's timeout is under way. */
  let probing = false;
  let replyErrorLogged = false;
  const listeners = new Set<(status: 'up' | 'down') => void>();
  const where = redactRedisUrl(url).replace(/^[a-z]+:\/\/(\*\*\*@)?/i, '');

  const change = (next: 'up' | 'down', error?: unknown) => {
    if (closing || status === next) return;
    const was = status;
    status = next;
    if (next === 'down') {
      reason = typeof error === 'string' ? error : describe(error);
      logger.warn({ redis: where, reason }, `Redis is unreachable (${reason}): ${consequence()}`);
    } else {
      reason = undefined;
      if (was === 'down') logger.info({ redis: where }, 'Redis is reachable again: replicas share it again');
    }
    for (const listener of listeners) listener(next);
  };

  // Every failure to connect or reconnect emits `error`; without a listener ioredis would print each one.
  client.on('error', (error: unknown) => {
    if (status === 'up' || status === 'connecting') change('down', error);
    else logger.debug({ redis: where, reason: describe(error) }, 'Redis is still unreachable');
  });
  client.on('close', () => {
    if (status === 'up') change('down', 'connection closed');
  });
  client.on('ready', () => change('up'));

  const onStatus = (listener: (status: 'up' | 'down') => void) => {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  };

  return {
    client,
    subscriber() {
      if (!subscriber) {
        // Subscriptions are queued until connected and renewed by ioredis after every reconnection.
        subscriber = client.duplicate({
          enableOfflineQueue: true,
          maxRetriesPerRequest: null,
          commandTimeout: undefined,
        });
        subscriber.on('error', (error: unknown) =>
          logger.debug({ redis: where, reason: describe(error) }, 'Redis subscriber connection error'),
        );
        if (!closing) subscriber.connect().catch(() => undefined);
      }
      return subscriber;
    },
    status: () => status,
    reason: () => reason,
    onStatus,
    failed(error) {
      if (status === 'down' || closing) return;
      if (error instanceof Error && error.name === 'ReplyError') {
        if (!replyErrorLogged) {
          replyErrorLogged = true;
          logger.warn({ redis: where, reason: describe(error) }, 'Redis refused a command; that call falls back');
        }
        return;
      }
      if (error instanceof Error && /timed out/i.test(error.message)) {
        if (probing) return;
        probing = true;
        client.ping().then(
          () => (probing = false),
          (pingError: unknown) => {
            probing = false;
            if (status !== 'down') change('down', pingError);
          },
        );
        return;
      }
      change('down', error);
    },
    succeeded() {
      if (status !== 'up' && client.status === 'ready') change('up');
    },
    async connect(timeoutMs) {
      if (status === 'up') return true;
      // Rejects on the first failure, while ioredis keeps retrying (retryStrategy): the `ready` event is what counts.
      client.connect().catch(() => undefined);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => finish(false), timeoutMs);
        const off = onStatus((next) => {
          if (next === 'up') finish(true);
        });
        function finish(ok: boolean) {
          clearTimeout(timer);
          off();
          resolve(ok);
        }
        if (status === 'up') finish(true);
      });
    },
    async close() {
      if (closing) return;
      closing = true;
      listeners.clear();
      const quit = async (connection: Redis) => {
        if (connection.status === 'ready') await connection.quit().catch(() => connection.disconnect());
        else connection.disconnect();
      };
      await Promise.all([quit(client), subscriber ? quit(subscriber) : undefined]);
    },
  };
}
