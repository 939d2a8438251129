import type { Config } from './config.js';
import type { Loaders } from './loaders.js';
import type { LiveHub } from './subscriptions/types.js';
import type { WorkflowsApi } from './upstream/types.js';

/**
 * What every resolver sees. One `Context` per GraphQL operation: loaders are never shared between
 * operations, while `api` (and the caches behind it) is shared by every operation of the same credential.
 */
export interface Context {
  readonly config: Config;
  /** The Workflows API for this operation's credential. */
  readonly api: WorkflowsApi;
  readonly loaders: Loaders;
  readonly live: LiveHub;
}
