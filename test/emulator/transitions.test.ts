import { describe, expect, it } from 'vitest';
import { INSTANCE_ACTIONS, TRANSITIONS, type InstanceAction } from '../../src/emulator/engine/transitions.js';
import { INSTANCE_STATUSES, type InstanceStatus } from '../../src/emulator/types.js';
import { canTransition } from '../../src/state-machine.js';

const cell = (status: InstanceStatus, action: InstanceAction) => `${action} from ${status}`;
const cells = (statuses: readonly InstanceStatus[], actions: readonly InstanceAction[], reason: string) =>
  statuses.flatMap((status) => actions.map((action) => [cell(status, action), reason] as const));

/**
 * Where the gateway (src/state-machine.ts) refuses an action that production does not refuse, and why. The
 * gateway is stricter on purpose where production ignores an action or its behaviour is unknown: a refused
 * request is cheap to retry, a silently ignored one looks like a change that happened.
 */
const INTENDED_DIFFERENCES: ReadonlyMap<string, string> = new Map([
  ...cells(
    ['queued', 'complete', 'errored', 'terminated'],
    ['pause'],
    'the local engine ignores the pause; what production does is unknown',
  ),
  ...cells(['waitingForPause', 'paused'], ['pause'], 'already pausing or paused: production ignores a second pause'),
  ...cells(
    ['queued', 'running', 'waiting', 'complete', 'errored', 'terminated'],
    ['resume'],
    'nothing to resume: documented to have no effect',
  ),
  ...cells(['rollingBack'], INSTANCE_ACTIONS, 'nothing is known about status changes during a rollback'),
]);

describe("the emulator's transition table against the gateway's", () => {
  it('differs only where the gateway deliberately refuses what production does not, each for a listed reason', () => {
    const differences = INSTANCE_STATUSES.flatMap((status) =>
      INSTANCE_ACTIONS.filter((action) => {
        const productionRefuses = TRANSITIONS[status][action] === 'refused';
        return canTransition(status, action) === productionRefuses;
      }).map((action) => cell(status, action)),
    );
    expect(differences.sort()).toEqual([...INTENDED_DIFFERENCES.keys()].sort());
    // Every listed difference is a refusal by the gateway, never an action the gateway allows and production refuses.
    for (const difference of differences) {
      const [action, status] = difference.split(' from ') as [InstanceAction, InstanceStatus];
      expect(canTransition(status, action), difference).toBe(false);
    }
  });

  it("leaves the gateway's choice open only where the contract does (ignored or unknown actions)", () => {
    for (const difference of INTENDED_DIFFERENCES.keys()) {
      const [action, status] = difference.split(' from ') as [InstanceAction, InstanceStatus];
      expect(['ignored', 'unknown'], difference).toContain(TRANSITIONS[status][action]);
    }
  });
});
