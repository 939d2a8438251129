import type { InstanceAction, InstanceStatus } from './upstream/types.js';

/**
 * Which status changes the gateway allows from which status, following the action matrix of
 * docs/upstream-contract.md §5 and the buttons Cloudflare's own explorer enables. Where production's behaviour is uncertain
 * (pause of a queued instance, anything during rollback) we refuse: a refused request is cheap to retry,
 * a silently ignored one is not.
 */
const ALLOWED: Readonly<Record<InstanceAction, ReadonlySet<InstanceStatus>>> = {
  pause: new Set(['running', 'waiting']),
  resume: new Set(['paused', 'waitingForPause']),
  terminate: new Set(['queued', 'running', 'paused', 'waitingForPause', 'waiting']),
  restart: new Set(['queued', 'running', 'paused', 'waitingForPause', 'waiting', 'errored', 'terminated', 'complete']),
};

export function canTransition(status: InstanceStatus, action: InstanceAction): boolean {
  return ALLOWED[action].has(status);
}
