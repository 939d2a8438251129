import { ANONYMOUS, type Principal } from './auth/principal.js';
import { createCacheRegistry, type SharedFinishedStore } from './cache/finished-instances.js';
import { codedError } from './errors/coded-error.js';
import type { Config } from './config.js';
import { createLoaders, type Loaders } from './loaders.js';
import type { Logger } from './logger.js';
import type { LiveHub } from './subscriptions/types.js';
import type { Upstream } from './upstream/client.js';
import type { CallOrigin } from './upstream/observer.js';
import type { WorkflowsApi } from './upstream/types.js';

/** One mutation as the audit log records it: who did what to which instance, and how it ended. */
export interface AuditEntry {
  readonly action: string;
  readonly workflowName: string;
  readonly instanceId: string | null;
  /** `ok`, or the name of the error the mutation returned (`ForbiddenError`, `InvalidTransitionError`, ...). */
  readonly outcome: string;
}

/**
 * What every resolver sees. One `Context` per GraphQL operation: loaders are never shared between
 * operations, while `api` (and the caches behind it) is shared by every operation of the same credential.
 */
export interface Context {
  readonly config: Config;
  /** Who is calling (see `auth/`); `anonymous` with every scope when authentication is off. */
  readonly principal: Principal;
  /** The Workflows API for this operation's credential: the client's own in `cloudflare-token` mode. */
  readonly api: WorkflowsApi;
  readonly loaders: Loaders;
  readonly live: LiveHub;
  /**
   * Writes the audit line of one mutation, naming the principal by its id (never a key, token or JWT), with the
   * operation's request id.
   */
  audit(entry: AuditEntry): void;
}

/**
 * Where the transports leave the principal they authenticated for a request (HTTP: the Yoga plugin in
 * `transport/authentication.ts`; graphql-ws: the connection's upgrade request), for the context to find.
 */
export type PrincipalRegistry = WeakMap<Request, Principal>;

/**
 * Who a client is, for what is counted per client (its share of the request budget, `CLIENT_BUDGET_SHARE`; its
 * SSE reservations): the authenticated principal (API key id, JWT subject, client credential), else the client
 * address of the transports' Node request `req`, else `address:unknown` (a request whose socket is gone).
 */
export function clientKeyOf(principal: Principal | undefined, req: unknown): string {
  if (principal && principal.mode !== 'none') return `principal:${principal.id}`;
  const address = (req as { socket?: { remoteAddress?: unknown } } | undefined)?.socket?.remoteAddress;
  return `address:${typeof address === 'string' ? address : 'unknown'}`;
}

/** A request that reached the schema without a principal although authentication is on: fail closed. */
function unauthenticated(): never {
  throw codedError('The request carries no authenticated credential.', 'UNAUTHENTICATED');
}

/**
 * Creates the per-request context factory. The cross-request caches (finished instances) live in the
 * factory, one per credential key, so they are created once per app and never shared between credentials.
 * A request without a registered principal is anonymous: only possible when authentication is off, since
 * the transports refuse unauthenticated requests before any context is built otherwise. The context's API makes
 * its calls for `origin`, the operation the context is built for (src/operations/lifecycle.ts).
 */
export function createContextFactory(deps: {
  config: Config;
  upstream: Upstream;
  live: LiveHub;
  principals?: PrincipalRegistry;
  /** True when a transport authenticates every request: a request without a principal is then refused, never anonymous. */
  authenticated?: boolean;
  logger?: Logger;
  /** Told of every lookup in the finished-instance caches (metrics). */
  onFinishedCacheLookup?: ((hit: boolean) => void) | undefined;
  /** With REDIS_URL: the finished-instance caches' tier shared with other replicas. */
  sharedFinished?: SharedFinishedStore | undefined;
}): (request: Request, req?: unknown, origin?: CallOrigin) => Context {
  const caches = createCacheRegistry({
    ttlMs: deps.config.finishedInstanceTtlMs,
    onLookup: deps.onFinishedCacheLookup,
    shared: deps.sharedFinished,
  });
  const { logger } = deps;
  return (request, req, origin) => {
    const principal = deps.principals?.get(request) ?? (deps.authenticated ? unauthenticated() : ANONYMOUS);
    const credential = principal.credential;
    const shared = credential
      ? deps.upstream.forCredential(credential.accountId, credential.apiToken)
      : deps.upstream.default;
    const api = deps.upstream.forClient(shared, clientKeyOf(principal, req), origin);
    return {
      config: deps.config,
      principal,
      api,
      loaders: createLoaders(api, caches.finished(api.credential.key)),
      live: deps.live,
      // Fields, not JSON in the message: log pipelines filter on `msg: "audit"` and on each field.
      audit: (entry) =>
        logger?.info(
          {
            ...(origin ? { requestId: origin.requestId } : {}),
            principal: principal.id,
            authMode: principal.mode,
            ...entry,
          },
          'audit',
        ),
    };
  };
}
