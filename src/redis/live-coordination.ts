/**
 * Poll leadership through Redis (issue 14): the {@link LiveCoordinator} of a replica when `REDIS_URL` is set.
 *
 * - Every loop (credential × workflow) has at most one leader: the replica holding its lease, renewed every
 *   {@link RENEW_MS} and expiring after {@link LEASE_TTL_MS}. Only a replica whose own subscribers watch something
 *   of the loop takes a free lease. A renewal that fails or finds the lease gone ends the leadership at once.
 * - Each replica records what its subscribers watch (with the same heartbeat); the leader polls for all of it.
 * - The leader publishes every state it reads with its fencing token, through a script that checks the lease
 *   (a deposed leader cannot publish), and keeps the latest state of each instance; followers deliver what it
 *   publishes, read kept states for subscribers that join, and ignore tokens older than the current lease's.
 * - Every published message counts up the loop's version; a follower that finds a version skipped (a message lost
 *   while its subscriber connection was away, or published before it subscribed again) reads the kept states of
 *   everything its subscribers watch again. Per instance, a state older (token, version) than one delivered is
 *   ignored, so a status never goes backwards.
 * - Data that cannot be read (another format, garbage) counts as missing, with one warning per kind.
 * - Mutations on any replica are published to every replica at once.
 * - While Redis is unreachable, every loop polls for its own subscribers (`alone`). When Redis answers again,
 *   replicas record their interest again, elect again, read kept states again, and a new leader publishes every
 *   state after its first poll: pub/sub is at-most-once, so nothing from the gap is trusted.
 */
import type { Logger } from '../logger.js';
import type {
  CoordinatedLoop,
  LiveCoordinator,
  LoopInterest,
  LoopLink,
  LoopRole,
  SharedState,
} from '../subscriptions/coordinator.js';
import type { NotFoundResource } from '../upstream/errors.js';
import type { InstanceDetails, InstanceStatus } from '../upstream/types.js';
import type { RedisConnection } from './connection.js';
import { decodeJson, encodeJson, hasFields } from './json-codec.js';
import type { RedisKeys } from './keys.js';
import { PUBLISH_FENCED, RELEASE, TICK } from './live-scripts.js';

/** A leader that has not renewed its lease for this long is replaced. */
export const LEASE_TTL_MS = 5000;
/**
 * How often leases are renewed, free ones looked for, and interest recorded, at most: well inside
 * {@link LEASE_TTL_MS}. A shorter poll interval shortens it (see `tickMs` in {@link createLiveCoordination}).
 */
export const RENEW_MS = 1500;
/** How long kept states outlive their loop's leader (renewed by its every heartbeat). */
const STATES_TTL_MS = 10 * 60_000;

type Message =
  | { readonly r: string; readonly k: string; readonly m: 'interest' | 'released' }
  | { readonly r: string; readonly k: string; readonly m: 'changed'; readonly i?: string; readonly d?: InstanceDetails }
  | { readonly r: string; readonly k: string; readonly m: 'state'; readonly t: number; readonly s: SharedState }
  | {
      readonly r: string;
      readonly k: string;
      readonly m: 'list';
      readonly t: number;
      readonly s: SharedState;
      readonly p: InstanceStatus | null;
    }
  | {
      readonly r: string;
      readonly k: string;
      readonly m: 'gone';
      readonly t: number;
      readonly i: string | null;
      readonly g: NotFoundResource;
    };

/** What one replica's subscribers watch, as kept in Redis: `[instance id, needs details]` pairs and the list. */
interface InterestWire {
  readonly i: [string, 0 | 1][];
  readonly w: 0 | 1 | null;
}

interface Entry {
  readonly loop: CoordinatedLoop;
  readonly id: string;
  role: LoopRole;
  /** This replica's fencing token while it leads the loop, else 0. */
  token: number;
  /** The current leader's fencing token (as the last tick read it, or newer): lower ones are a deposed leader's. */
  seenToken: number;
  /** The loop's version up to which this replica has every message (by pub/sub or reading the kept states). */
  version: number;
  /**
   * Per instance this replica watched at its last tick, the (token, version) of the latest state heard from Redis
   * (by pub/sub, whether or not a subscriber here watched it then, or read from the kept states).
   */
  readonly delivered: Map<string, readonly [number, number]>;
  /** Local interest changed since the last tick: the tick announces it to the leader. */
  interestChanged: boolean;
  /** Kept states are read for every watched instance at the next tick (after rejoining). */
  rereadStates: boolean;
  ticking: Promise<void> | undefined;
  tickAgain: boolean;
  tickSoon: NodeJS.Timeout | undefined;
}

export interface LiveCoordination extends LiveCoordinator {
  /** Subscribes to the channel and starts the heartbeats. */
  start(): void;
  /** Stops the heartbeats; waits for leases and interest given back by loops that stopped. */
  stop(): Promise<void>;
  /** How many of this replica's loops lead, follow and poll alone (operators and tests read it). */
  roles(): Record<LoopRole, number>;
}

const NO_INTEREST: LoopInterest = { instances: new Map(), workflow: null };

const isEmpty = (interest: LoopInterest) => interest.instances.size === 0 && interest.workflow === null;

function encodeInterest(interest: LoopInterest): string {
  const wire: InterestWire = {
    i: [...interest.instances].map(([id, details]) => [id, details ? 1 : 0]),
    w: interest.workflow === null ? null : interest.workflow ? 1 : 0,
  };
  return JSON.stringify(wire);
}

/**
 * What every other replica watches, together: an instance needs details when one replica's subscriber does. An
 * entry that cannot be read counts as watching nothing (`unreadable` hears of it).
 */
function unionOf(encoded: readonly string[], unreadable: (error: unknown) => void): LoopInterest {
  const instances = new Map<string, boolean>();
  let workflow: boolean | null = null;
  for (const text of encoded) {
    try {
      const wire = JSON.parse(text) as InterestWire;
      for (const [id, details] of wire.i) {
        if (typeof id === 'string') instances.set(id, (instances.get(id) ?? false) || details === 1);
      }
      if (wire.w !== null && wire.w !== undefined) workflow = (workflow ?? false) || wire.w === 1;
    } catch (error) {
      unreadable(error);
    }
  }
  return { instances, workflow };
}

/** `<version>|<JSON>` as PUBLISH_FENCED writes it (src/redis/live-scripts.ts); plain JSON has version 0. */
function versioned(text: string): [number, string] {
  if (text.startsWith('{')) return [0, text];
  const bar = text.indexOf('|');
  const version = Number(text.slice(0, bar));
  if (bar < 1 || !Number.isSafeInteger(version)) throw new Error('no version');
  return [version, text.slice(bar + 1)];
}

const isState = (value: unknown): value is SharedState => {
  if (!hasFields(value, { instanceId: 'string', status: 'string' })) return false;
  const state = value as typeof value & Partial<SharedState>;
  return (
    state.at instanceof Date &&
    !Number.isNaN(state.at.getTime()) &&
    (state.details === null || (typeof state.details === 'object' && state.details !== undefined))
  );
};

function isMessage(value: unknown): value is Message {
  if (!hasFields(value, { r: 'string', k: 'string', m: 'string' })) return false;
  const message = value as typeof value & Partial<Record<string, unknown>>;
  switch (message.m) {
    case 'interest':
    case 'released':
    case 'changed':
      return true;
    case 'state':
    case 'list':
      return hasFields(message, { t: 'number' }) && isState(message.s);
    case 'gone':
      return hasFields(message, { t: 'number' });
    default:
      return false;
  }
}

const sharedOf = (state: SharedState): SharedState => ({
  instanceId: state.instanceId,
  status: state.status,
  at: state.at,
  details: state.details,
});

export function createLiveCoordination(options: {
  readonly connection: RedisConnection;
  readonly keys: RedisKeys;
  /** This replica's id (src/redis/registry.ts). */
  readonly replicaId: string;
  /** `POLL_INTERVAL_MS`. */
  readonly pollIntervalMs: number;
  readonly logger: Logger;
}): LiveCoordination {
  const { connection, keys, replicaId: me, logger } = options;
  // A follower finds a dead leader's lease expired at its next tick and polls at once: ticking at least once per
  // poll interval replaces a leader within LEASE_TTL_MS + one poll interval of its last renewal (issue 14 asks
  // for two poll intervals plus the TTL).
  const tickMs = Math.min(RENEW_MS, options.pollIntervalMs);
  const channel = keys.channel('live:v1');
  const warned = new Set<string>();
  /** Unreadable data or a failing step: logged once per kind, and the data counts as missing. */
  const warnOnce = (kind: string, error: unknown) => {
    if (warned.has(kind)) return;
    warned.add(kind);
    const reason = error instanceof Error ? error.message : String(error);
    logger.warn({ kind, reason }, 'live coordination skipped data it cannot use (logged once per kind)');
  };
  const entries = new Map<string, Entry>();
  const leaving = new Set<Promise<unknown>>();
  let timer: NodeJS.Timeout | undefined;
  let offStatus: (() => void) | undefined;
  let stopped = false;

  const setRole = (entry: Entry, role: LoopRole) => {
    entry.role = role;
    entry.loop.setRole(role);
  };

  /** Stops leading (the lease is lost or Redis is unreachable): the stand-ins for other replicas go at once. */
  const resign = (entry: Entry, role: LoopRole) => {
    entry.token = 0;
    entry.loop.setRemoteInterest(NO_INTEREST);
    setRole(entry, role);
  };

  const scheduleTick = (entry: Entry) => {
    if (entry.tickSoon !== undefined || stopped) return;
    entry.tickSoon = setTimeout(() => {
      entry.tickSoon = undefined;
      void tick(entry);
    }, 0);
  };

  const tick = (entry: Entry): Promise<void> => {
    if (entry.ticking) {
      entry.tickAgain = true;
      return entry.ticking;
    }
    entry.ticking = tickOnce(entry)
      .catch((error: unknown) => warnOnce('tick', error))
      .finally(() => {
        entry.ticking = undefined;
        if (entry.tickAgain) {
          entry.tickAgain = false;
          scheduleTick(entry);
        }
      });
    return entry.ticking;
  };

  async function tickOnce(entry: Entry): Promise<void> {
    if (connection.status() !== 'up' || entries.get(entry.id) !== entry) return;
    const interest = entry.loop.localInterest();
    // Ordering matters only for what subscribers here watch; without this, a follower would remember every
    // instance of the loop it ever heard of.
    for (const id of entry.delivered.keys()) if (!interest.instances.has(id)) entry.delivered.delete(id);
    const announce = entry.interestChanged;
    entry.interestChanged = false;
    let reply: unknown;
    try {
      reply = await TICK.run(
        connection.client,
        [
          keys.lease(entry.id),
          keys.fence(entry.id),
          keys.interest(entry.id),
          channel,
          keys.states(entry.id),
          keys.version(entry.id),
        ],
        [
          me,
          LEASE_TTL_MS,
          isEmpty(interest) ? '' : encodeInterest(interest),
          announce ? '1' : '0',
          JSON.stringify({ r: me, k: entry.id, m: 'interest' }),
          STATES_TTL_MS,
        ],
      );
      connection.succeeded();
    } catch (error) {
      // The connection's status listener below makes every loop poll alone.
      if (announce) entry.interestChanged = true;
      connection.failed(error);
      return;
    }
    if (entries.get(entry.id) !== entry) return;
    const [token, ...others] = reply as [number, ...(string | number)[]];
    if (token > 0) {
      entry.seenToken = Math.max(entry.seenToken, token);
      if (entry.token !== token || entry.role !== 'leader') {
        entry.token = token;
        setRole(entry, 'leader');
      }
      entry.loop.setRemoteInterest(unionOf(others.map(String), (error) => warnOnce('interest', error)));
      return;
    }
    // The current lease's token is authoritative: older ones are a deposed leader's, even before this replica hears
    // from it, and a lower one than seen before is a Redis that restarted empty.
    entry.seenToken = Number(others[0] ?? 0);
    const version = Number(others[1] ?? 0);
    if (entry.role !== 'follower') {
      resign(entry, 'follower');
      entry.rereadStates = true;
    }
    const reread = entry.rereadStates || version !== entry.version;
    entry.rereadStates = false;
    const wanted = reread ? [...entry.loop.localInterest().instances.keys()] : entry.loop.unservedInstances();
    if (wanted.length > 0 && !(await readStates(entry, wanted))) {
      if (reread) entry.rereadStates = true;
      return;
    }
    if (reread) entry.version = version;
  }

  /**
   * Hands a state from Redis to the loop unless one as new (by token, then version) was heard already, or, with
   * `sameToo`, unless a newer one was: for an instance whose subscribers still wait for a first state, the kept
   * state may be the very message this replica heard before any of them came. Otherwise the same one again could
   * undo what a mutation here delivered since (the loop takes a state from a mutation outside this ordering).
   */
  function applyOrdered(entry: Entry, token: number, version: number, state: SharedState, sameToo = false): void {
    const last = entry.delivered.get(state.instanceId);
    const order = last ? token - last[0] || version - last[1] : 1;
    if (order < 0 || (order === 0 && !sameToo)) return;
    entry.delivered.set(state.instanceId, [token, version]);
    entry.loop.applyState(state);
  }

  /** Delivers the kept states of `instanceIds` (subscribers that joined, or everything after a gap); false when Redis failed. */
  async function readStates(entry: Entry, instanceIds: string[]): Promise<boolean> {
    let kept: (string | null)[];
    try {
      kept = await connection.client.hmget(keys.states(entry.id), ...instanceIds);
    } catch (error) {
      connection.failed(error);
      return false;
    }
    if (entries.get(entry.id) !== entry || entry.role !== 'follower') return true;
    const waiting = new Set(entry.loop.unservedInstances());
    for (const text of kept) {
      if (text === null) continue;
      try {
        const [version, json] = versioned(text);
        const { t, s } = decodeJson<{ t: number; s: SharedState }>(json);
        if (typeof t !== 'number' || !isState(s)) throw new Error('not a kept state');
        applyOrdered(entry, t, version, s, waiting.has(s.instanceId));
      } catch (error) {
        warnOnce('kept state', error);
      }
    }
    return true;
  }

  /** Publishes a leader's message; finding the lease gone ends the leadership. */
  function publish(entry: Entry, message: Message, kept?: SharedState): void {
    if (connection.status() !== 'up') return;
    const token = entry.token;
    PUBLISH_FENCED.run(
      connection.client,
      [keys.lease(entry.id), keys.states(entry.id), channel, keys.version(entry.id)],
      [
        `${me} ${token}`,
        encodeJson(message),
        kept?.instanceId ?? '',
        kept ? encodeJson({ t: token, s: kept }) : '',
        STATES_TTL_MS,
      ],
    ).then(
      (published) => {
        if (published === 0 && entry.token === token && entries.get(entry.id) === entry) {
          logger.debug({ loop: entry.id }, 'lost the lease of a poll loop; following');
          resign(entry, 'follower');
          scheduleTick(entry);
        }
      },
      (error: unknown) => connection.failed(error),
    );
  }

  function onMessage(text: string): void {
    let message: Message;
    let version: number;
    try {
      let json: string;
      [version, json] = versioned(text);
      const decoded = decodeJson<unknown>(json);
      if (!isMessage(decoded)) throw new Error('not a live message');
      message = decoded;
    } catch (error) {
      warnOnce('message', error);
      return;
    }
    if (message.r === me) return;
    const entry = entries.get(message.k);
    if (!entry) return;
    switch (message.m) {
      case 'interest':
        if (entry.token > 0) scheduleTick(entry);
        return;
      case 'released':
        if (entry.token === 0) scheduleTick(entry);
        return;
      case 'changed':
        entry.loop.changed(message.i, message.d);
        return;
      default:
        break;
    }
    if (message.t < entry.seenToken) return;
    entry.seenToken = message.t;
    if (entry.token > 0) {
      // Another replica leads with a newer token: this one's lease is gone; the next tick finds out.
      if (message.t > entry.token) scheduleTick(entry);
      return;
    }
    if (version === entry.version + 1) entry.version = version;
    else {
      // A message was missed (or Redis restarted): the kept states tell what it said.
      entry.rereadStates = true;
      scheduleTick(entry);
    }
    if (message.m === 'state') applyOrdered(entry, message.t, version, message.s);
    else if (message.m === 'list') entry.loop.applyListChange(message.s, message.p);
    else entry.loop.applyGone(message.i, message.g);
  }

  function onStatus(status: 'up' | 'down'): void {
    for (const entry of entries.values()) {
      if (status === 'down') {
        if (entry.role !== 'alone') resign(entry, 'alone');
      } else {
        entry.interestChanged = true;
        entry.rereadStates = true;
        scheduleTick(entry);
      }
    }
  }

  return {
    join(loop) {
      const id = keys.loopId(loop.credentialKey, loop.workflowName);
      const entry: Entry = {
        loop,
        id,
        role: 'alone',
        token: 0,
        seenToken: 0,
        version: 0,
        delivered: new Map(),
        interestChanged: true,
        rereadStates: false,
        ticking: undefined,
        tickAgain: false,
        tickSoon: undefined,
      };
      entries.set(id, entry);
      // Until the first tick says who leads, a loop waits (one round trip) rather than poll beside a leader.
      if (connection.status() === 'up') setRole(entry, 'follower');
      scheduleTick(entry);
      const link: LoopLink = {
        interestChanged() {
          entry.interestChanged = true;
          scheduleTick(entry);
        },
        stateChanged(state) {
          if (entry.token > 0) {
            const shared = sharedOf(state);
            publish(entry, { r: me, k: id, m: 'state', t: entry.token, s: shared }, shared);
          }
        },
        listChanged(state, previous) {
          if (entry.token > 0)
            publish(entry, { r: me, k: id, m: 'list', t: entry.token, s: sharedOf(state), p: previous });
        },
        gone(instanceId, resource) {
          if (entry.token > 0) publish(entry, { r: me, k: id, m: 'gone', t: entry.token, i: instanceId, g: resource });
        },
        leave() {
          clearTimeout(entry.tickSoon);
          entry.tickSoon = undefined;
          if (entries.get(id) === entry) entries.delete(id);
          if (connection.status() !== 'up') return;
          const released = RELEASE.run(
            connection.client,
            [keys.lease(id), keys.interest(id), channel, keys.states(id), keys.version(id)],
            [me, JSON.stringify({ r: me, k: id, m: 'released' }), JSON.stringify({ r: me, k: id, m: 'interest' })],
          )
            .catch((error: unknown) => connection.failed(error))
            .finally(() => leaving.delete(released));
          leaving.add(released);
        },
      };
      return link;
    },

    changed(credentialKey, workflowName, instanceId, details) {
      if (connection.status() !== 'up') return;
      const message: Message = {
        r: me,
        k: keys.loopId(credentialKey, workflowName),
        m: 'changed',
        ...(instanceId === undefined ? {} : { i: instanceId }),
        ...(details === undefined ? {} : { d: details }),
      };
      connection.client.publish(channel, encodeJson(message)).catch((error: unknown) => connection.failed(error));
    },

    start() {
      if (timer) return;
      const subscriber = connection.subscriber();
      subscriber.on('message', (from: string, text: string) => {
        try {
          if (from === channel) onMessage(text);
        } catch (error) {
          warnOnce('message handling', error);
        }
      });
      // Messages published while the subscriber connection was away are lost: once subscribed again (the
      // acknowledgement, not just the reconnection), every loop reads the kept states again.
      const resubscribed = () => {
        for (const entry of entries.values()) {
          entry.rereadStates = true;
          scheduleTick(entry);
        }
      };
      subscriber.on('ready', () => {
        subscriber.subscribe(channel).then(resubscribed, () => undefined);
      });
      subscriber.subscribe(channel).catch(() => undefined);
      offStatus = connection.onStatus(onStatus);
      timer = setInterval(() => {
        for (const entry of entries.values()) void tick(entry);
      }, tickMs);
      timer.unref();
    },

    roles() {
      const roles: Record<LoopRole, number> = { alone: 0, leader: 0, follower: 0 };
      for (const entry of entries.values()) roles[entry.role]++;
      return roles;
    },

    async stop() {
      stopped = true;
      clearInterval(timer);
      offStatus?.();
      for (const entry of entries.values()) clearTimeout(entry.tickSoon);
      await Promise.all([...leaving]);
    },
  };
}
