/**
 * Stand-ins, in a leading loop, for what other replicas' subscribers watch: they make the loop poll for them
 * (with details when one of them needs details) and deliver nothing here; what the loop reads reaches those
 * replicas through the loop's coordinator (src/subscriptions/coordinator.ts). They fit the loop's
 * `InstanceSubscriber` and `WorkflowSubscriber` (src/subscriptions/poll-loop.ts) with methods that ignore
 * their arguments.
 */
export class RemoteInstanceInterest {
  constructor(readonly needsDetails: boolean) {}
  update(): void {}
  fail(): void {}
}

export class RemoteWorkflowInterest {
  constructor(readonly needsDetails: boolean) {}
  change(): void {}
  fail(): void {}
}
