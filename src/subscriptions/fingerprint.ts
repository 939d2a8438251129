import type { InstanceDetails, StepInfo } from '../upstream/types.js';

/**
 * A compact summary of everything `instanceUpdated` reports a change for: the status, each step's
 * progress (started, finished, succeeded) and each new attempt. Two details with equal fingerprints look
 * the same to a subscriber, so no event is sent; previews of outputs are left out on purpose (they only
 * change together with a step finishing).
 */
export function fingerprintOf(details: InstanceDetails): string {
  const parts: string[] = [details.status, String(details.stepCount), details.endedOn?.toISOString() ?? ''];
  for (const step of details.steps) parts.push(stepFingerprint(step));
  return parts.join('|');
}

function stepFingerprint(step: StepInfo): string {
  switch (step.type) {
    case 'do': {
      const last = step.attempts[step.attempts.length - 1];
      return `d:${step.name}:${flag(step.end !== null)}:${flag(step.success)}:${step.attempts.length}:${flag(last?.end != null)}`;
    }
    case 'sleep':
      return `s:${step.name}:${flag(step.finished)}:${flag(step.error !== null)}`;
    case 'waitForEvent':
      return `w:${step.name}:${flag(step.finished)}:${flag(step.error !== null)}`;
    case 'termination':
      return `t:${step.source}`;
  }
}

function flag(value: boolean | null): string {
  return value === null ? '-' : value ? '1' : '0';
}
