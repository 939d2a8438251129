import type { InstanceDetails, WorkflowsApi } from '../upstream/types.js';

/**
 * The live side of the gateway as resolvers see it. Subscription resolvers subscribe through it;
 * mutations tell it what they changed so that subscribers hear of it at once, not at the next poll.
 */
export interface LiveHub {
  /**
   * Publishes state that a mutation has just observed (or, without `details`, asks the watcher of that
   * instance to poll now). A no-op when nobody watches the instance.
   */
  instanceChanged(api: WorkflowsApi, workflowName: string, instanceId: string, details?: InstanceDetails): void;
  /** Tells watchers of a workflow's instance list that it changed (for example after a create). */
  workflowChanged(api: WorkflowsApi, workflowName: string): void;
}
