import { createCacheRegistry } from './cache/finished-instances.js';
import type { Config } from './config.js';
import { createLoaders, type Loaders } from './loaders.js';
import type { LiveHub } from './subscriptions/types.js';
import type { Upstream } from './upstream/client.js';
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

/**
 * Creates the per-request context factory. The cross-request caches (finished instances) live in the
 * factory, one per credential key, so they are created once per app and never shared between credentials.
 * The request is where per-request credentials will come from; today every request uses the configured one.
 */
export function createContextFactory(deps: {
  config: Config;
  upstream: Upstream;
  live: LiveHub;
}): (request: Request) => Context {
  const caches = createCacheRegistry({ ttlMs: deps.config.finishedInstanceTtlMs });
  return (_request) => {
    const api = deps.upstream.default;
    return {
      config: deps.config,
      api,
      loaders: createLoaders(api, caches.finished(api.credential.key)),
      live: deps.live,
    };
  };
}
