import type { NotFoundResource } from '../upstream/errors.js';
import type { InstanceDetails, InstanceStatus } from '../upstream/types.js';

/**
 * How the poll loops of several replicas share their work. One process alone is its own coordinator
 * ({@link inProcessCoordinator}: every loop polls for itself, as it always has); with `REDIS_URL`, replicas
 * elect one leader per loop, which polls for everyone's subscribers and publishes what it reads
 * (src/redis/live-coordination.ts). The subscriptions layer only knows this interface.
 */

/**
 * What a loop does for now. `alone`: polls for its own subscribers (one process, or Redis unreachable);
 * `leader`: polls for its own subscribers and those of every other replica, and publishes what it reads;
 * `follower`: never polls, and delivers what the leader publishes.
 */
export type LoopRole = 'alone' | 'leader' | 'follower';

/** What subscribers of one loop watch on one replica. */
export interface LoopInterest {
  /** Each watched instance, and whether one of its subscribers needs full details. */
  readonly instances: ReadonlyMap<string, boolean>;
  /** Null without workflow-list subscribers; else whether one of them needs full details. */
  readonly workflow: boolean | null;
}

/** An instance's state as a leader publishes it, and as a follower takes it in. */
export interface SharedState {
  readonly instanceId: string;
  readonly status: InstanceStatus;
  readonly at: Date;
  readonly details: InstanceDetails | null;
}

/** A poll loop as its coordinator sees it (src/subscriptions/poll-loop.ts). */
export interface CoordinatedLoop {
  readonly credentialKey: string;
  readonly workflowName: string;
  /** What this replica's own subscribers watch. */
  localInterest(): LoopInterest;
  /** Watched instances whose subscribers still wait for a first state (or for details). */
  unservedInstances(): string[];
  setRole(role: LoopRole): void;
  /** What other replicas' subscribers watch: a leader polls it too. Empty unless leading. */
  setRemoteInterest(interest: LoopInterest): void;
  /** A state the leader published (or kept): delivered to this replica's subscribers when it is news. */
  applyState(state: SharedState): void;
  /** A change of the instance list the leader published, for this replica's workflow subscribers. */
  applyListChange(state: SharedState, previous: InstanceStatus | null): void;
  /** The leader found the instance (or, with null, the workflow) gone: its subscribers here end. */
  applyGone(instanceId: string | null, resource: NotFoundResource): void;
  /** A mutation (on any replica) changed an instance, or with no instance id the list: as LiveHub.instanceChanged. */
  changed(instanceId?: string, details?: InstanceDetails): void;
}

/** What a loop tells its coordinator. */
export interface LoopLink {
  /** Subscribers joined or left. */
  interestChanged(): void;
  /** The loop saw a new state (by polling, or from a mutation here). */
  stateChanged(state: SharedState): void;
  listChanged(state: SharedState, previous: InstanceStatus | null): void;
  gone(instanceId: string | null, resource: NotFoundResource): void;
  /** The loop stopped: its interest and any lease go. */
  leave(): void;
}

export interface LiveCoordinator {
  /** Takes in a new loop; sets its first role before returning. */
  join(loop: CoordinatedLoop): LoopLink;
  /** A mutation on this replica: loops of the same credential and workflow elsewhere hear of it at once. */
  changed(credentialKey: string, workflowName: string, instanceId?: string, details?: InstanceDetails): void;
}

const NO_LINK: LoopLink = {
  interestChanged: () => undefined,
  stateChanged: () => undefined,
  listChanged: () => undefined,
  gone: () => undefined,
  leave: () => undefined,
};

/** One process: every loop polls for its own subscribers, and mutations only reach this process's loops. */
export const inProcessCoordinator: LiveCoordinator = {
  join: () => NO_LINK,
  changed: () => undefined,
};
