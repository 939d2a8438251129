/**
 * The emulator's own table of status changes (`PATCH .../status`), written from the action matrix in
 * docs/upstream-contract.md §5. It is deliberately not shared with the gateway: the gateway's table is
 * checked against this one (test/emulator/transitions.test.ts), so a wrong entry on either side shows.
 */
import { INSTANCE_STATUSES, type InstanceStatus } from '../types.js';

export const INSTANCE_ACTIONS = ['pause', 'resume', 'terminate', 'restart'] as const;
export type InstanceAction = (typeof INSTANCE_ACTIONS)[number];

/**
 * What docs/upstream-contract.md §5 says an action does to an instance in a given status:
 * - `applies`: the action takes effect;
 * - `ignored`: the instance stays as it is (documented, or what the local engine does);
 * - `refused`: documented to fail;
 * - `unknown`: nothing is known about production.
 */
export type TransitionOutcome = 'applies' | 'ignored' | 'refused' | 'unknown';

const FINAL_ROW = { pause: 'ignored', resume: 'ignored', terminate: 'refused', restart: 'applies' } as const;

/** §5's action matrix, one row per status. */
export const TRANSITIONS: Readonly<Record<InstanceStatus, Readonly<Record<InstanceAction, TransitionOutcome>>>> = {
  queued: { pause: 'ignored', resume: 'ignored', terminate: 'applies', restart: 'applies' },
  running: { pause: 'applies', resume: 'ignored', terminate: 'applies', restart: 'applies' },
  waiting: { pause: 'applies', resume: 'ignored', terminate: 'applies', restart: 'applies' },
  // Resuming an instance that has not finished pausing yet cancels the pause.
  waitingForPause: { pause: 'ignored', resume: 'applies', terminate: 'applies', restart: 'applies' },
  paused: { pause: 'ignored', resume: 'applies', terminate: 'applies', restart: 'applies' },
  rollingBack: { pause: 'unknown', resume: 'unknown', terminate: 'unknown', restart: 'unknown' },
  complete: FINAL_ROW,
  errored: FINAL_ROW,
  terminated: FINAL_ROW,
};

/**
 * Whether the emulator carries the action out. Only `applies` cells are: an ignored or unknown action is
 * refused like a documented refusal (400, code 10406), because production's answer to an ignored action is
 * not documented and a refusal at least tells the client that nothing happened.
 */
export function isCarriedOut(status: InstanceStatus, action: InstanceAction): boolean {
  return TRANSITIONS[status][action] === 'applies';
}

/** Statuses from which `action` is carried out, in the order of {@link INSTANCE_STATUSES}. */
export function statusesAllowing(action: InstanceAction): readonly InstanceStatus[] {
  return INSTANCE_STATUSES.filter((status) => isCarriedOut(status, action));
}
