import { builder } from './builder.js';

/**
 * The object refs of the domain types, apart from their implementations, so that type files refer to each
 * other through this module and never import one another (`schema/workflow.ts` links to instances and
 * versions, `schema/instance.ts` to its workflow and version).
 */

/** Backing shape of `Workflow`: its name; data comes through ctx.loaders (the workflow list primes them). */
export interface WorkflowRef {
  readonly name: string;
  /**
   * Upstream work `Query.workflow` already started for the selected fields while it found out whether the
   * workflow exists, by field and arguments (see `schema/lookups.ts`): those fields take it instead of asking
   * again.
   */
  readonly started?: ReadonlyMap<string, Promise<unknown>>;
}

/** Backing shape of `WorkflowInstance`: a key; all data comes through ctx.loaders. */
export interface InstanceRef {
  readonly workflowName: string;
  readonly instanceId: string;
}

/** Backing shape of `WorkflowVersion`: a key; data comes through ctx.loaders (lists prime them). */
export interface VersionRef {
  readonly workflowName: string;
  readonly versionId: string;
}

export const Workflow = builder.objectRef<WorkflowRef>('Workflow');
export const WorkflowInstance = builder.objectRef<InstanceRef>('WorkflowInstance');
export const WorkflowVersion = builder.objectRef<VersionRef>('WorkflowVersion');
