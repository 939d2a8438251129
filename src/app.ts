import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { GraphQLError } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { loggedSecrets, type Config } from './config.js';
import type { Authenticator } from './auth/principal.js';
import { createContextFactory, type PrincipalRegistry } from './context.js';
import { useAuthentication } from './transport/authentication.js';
import { createCorsPolicy } from './cors.js';
import { useQueryCostLimit } from './cost/plugin.js';
import { codedError } from './errors/coded-error.js';
import { createLogger, type Logger } from './logger.js';
import { schema } from './schema/index.js';
import { acceptedListLengths } from './schema/list-limits.js';
import { createLiveHub, type ManagedLiveHub } from './subscriptions/live-hub.js';
import { createBrowserSafety } from './transport/browser-safety.js';
import { attachWebSocket, type WebSocketTransport } from './transport/websocket.js';
import { graphqlSsePlugin, useUnbufferedEventStreams } from './transport/sse.js';
import { createDocumentCache, useDocumentLimits } from './transport/document-limits.js';
import { useCodedRequestErrors } from './transport/request-errors.js';
import { useSubscriptionSlots } from './transport/subscription-slots.js';
import { answerClientErrors, httpServerOptions, listen } from './transport/listen.js';
import { nodeRequestListener } from './transport/node-listener.js';
import { holdRequestBody, lingerBeforeClose, useCloseOnUnreadBody } from './transport/request-body.js';
import { DEFAULT_QUERY, DEFAULT_TABS, useGraphiQL } from './graphiql.js';
import { createUpstream, type Upstream } from './upstream/client.js';
import { combineObservers } from './upstream/observer.js';
import { operationTracing } from './tracing/operation.js';
import type { Tracing } from './tracing/tracing.js';
import { traceUpstreamCalls } from './tracing/upstream.js';
import { useTrustedDocuments } from './trusted-documents/plugin.js';
import { graphiqlMarkerOptions, loadDocumentResolver, type DocumentResolver } from './trusted-documents/resolve.js';
import { acceptingWorkCheck, answerReadiness, type ReadinessCheck } from './health/readiness.js';
import { createUpstreamHealth, type StartupCheckOutcome } from './health/upstream-check.js';
import { redisReadinessCheck } from './health/redis-check.js';
import type { ScaleOut } from './redis/scale-out.js';
import { operationLog } from './logging/operation-log.js';
import {
  operationUpstreamObserver,
  recordOperationCost,
  useOperationLifecycle,
  type OperationRecords,
} from './operations/lifecycle.js';
import { createRequestIds } from './operations/request-id.js';
import { useSharedSubscriptionExecution } from './subscriptions/shared-execution.js';
import type { Context } from './context.js';
import { Metrics } from './metrics/metrics.js';
import { operationMetrics, useGraphQLMetrics } from './metrics/graphql.js';
import { startMetricsServer, useMetricsEndpoint, type MetricsServer } from './metrics/endpoint.js';

export interface App {
  readonly yoga: YogaServerInstance<Record<string, unknown>, Context>;
  readonly server: Server;
  readonly upstream: Upstream;
  readonly live: ManagedLiveHub;
  readonly logger: Logger;
  /** The app's metrics (its own registry); undefined with METRICS=false. */
  readonly metrics: Metrics | undefined;
  /** With METRICS_PORT, once started: the URL of the separate `/metrics` server. */
  readonly metricsUrl: string | undefined;
  /** With REDIS_URL: what this replica shares with the others through Redis (src/redis/scale-out.ts). */
  readonly scaleOut: ScaleOut | undefined;
  /** Listens on `port` (0 picks a free one) and resolves with the GraphQL endpoint's URL. */
  start(port?: number, host?: string): Promise<string>;
  /** Checks open WebSocket connections' credentials again (after a key rotation); refused ones close with 4401. */
  reauthenticate(): Promise<void>;
  /** Stops accepting work, lets in-flight requests finish, completes subscriptions, closes every socket. */
  stop(): Promise<void>;
  /**
   * The start-up check's outcome (src/health/upstream-check.ts), once `start` has run it: in remote mode with
   * the server's own token; `skipped` in local mode and with AUTH_MODE=cloudflare-token. Never settles while
   * the upstream stays unreachable (the check keeps retrying).
   */
  readonly startupCheck: Promise<StartupCheckOutcome>;
}

/** Builds the gateway without listening: tests can use `yoga.fetch` or `start(0)`. */
export interface AppOptions {
  logger?: Logger;
  /** Authenticates every request and WebSocket connection (see `auth/`); unset: no authentication (anonymous). */
  authenticator?: Authenticator;
  /** Traces operations and their upstream calls (src/tracing/sdk.ts starts it); `stop()` flushes and shuts it down. */
  tracing?: Tracing;
  /** Trusted documents (src/trusted-documents/); unset: loaded from `config.trustedDocuments` (main loads it first). */
  documents?: DocumentResolver;
  /**
   * Required with `REDIS_URL`: what this replica shares with the others through Redis (src/redis/scale-out.ts;
   * src/main.ts builds it, so that a server without Redis never loads its client). The app starts and stops it.
   */
  scaleOut?: ScaleOut;
  /** Checks `/readyz` runs besides the app's own (accepting work, the upstream): a Redis connection, say. */
  readinessChecks?: readonly ReadinessCheck[];
  /**
   * Yoga plugins installed after the app's own, so that theirs are the last hooks of each phase: a capability that
   * wraps or replaces the executor, or a fault a test puts there (test/integration/executor-errors.test.ts).
   */
  plugins?: readonly Plugin[];
}

export function createApp(config: Config, options: AppOptions = {}): App {
  const logger = options.logger ?? createLogger(config.logLevel, loggedSecrets(config), { format: config.logFormat });
  const { tracing } = options;
  const metrics = config.metrics.enabled ? new Metrics() : undefined;
  // The server's own credential is checked (at start, and by every call) unless it has none: local mode talks to
  // the embedded emulator, and with AUTH_MODE=cloudflare-token clients bring their own tokens.
  const upstreamHealth =
    config.mode === 'remote' && config.auth.mode !== 'cloudflare-token'
      ? createUpstreamHealth({ logger, upstream: config.upstream })
      : undefined;
  // With REDIS_URL, replicas share each credential's request budget; without it nothing of src/redis/ runs.
  const { scaleOut } = options;
  if (config.redis.url !== undefined && !scaleOut) {
    // Each replica would spend the whole limit on its own: never silently.
    throw new Error('REDIS_URL is set but no AppOptions.scaleOut was given (src/main.ts builds it)');
  }
  const upstream: Upstream = createUpstream(config.upstream, {
    logger,
    budgets: scaleOut?.budgetFactory,
    observer: combineObservers([
      ...(tracing ? [traceUpstreamCalls(tracing, { budget: (key) => upstream.budget(key) })] : []),
      ...(metrics ? [metrics.upstreamObserver] : []),
      ...(upstreamHealth ? [upstreamHealth.observer] : []),
      operationUpstreamObserver,
    ]),
  });
  const requestIds = createRequestIds();
  const live = createLiveHub({
    config,
    upstream,
    logger,
    observer: metrics?.liveObserver,
    coordinator: scaleOut?.live,
  });
  const authenticator = options.authenticator?.mode === 'none' ? undefined : options.authenticator;
  const principals: PrincipalRegistry = new WeakMap();
  const operations: OperationRecords = new WeakMap();
  const documents = options.documents ?? loadDocumentResolver(config.trustedDocuments);
  const context = createContextFactory({
    config,
    upstream,
    live,
    principals,
    authenticated: authenticator !== undefined,
    logger,
    onFinishedCacheLookup: metrics?.cacheLookup('finished_instances'),
    sharedFinished: scaleOut?.finished,
  });

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    // `req`: the Node request of HTTP and WebSocket operations, whose address is the client's for fairness. `initial`
    // is the object the lifecycle keys the operation's record by (src/operations/lifecycle.ts).
    context: (initial) => context(initial.request, initial.req, operations.get(initial)),
    graphqlEndpoint: '/graphql',
    // The http handler below holds bodies to MAX_REQUEST_BYTES as yoga reads them (transport/request-body.ts);
    // yoga's own check would copy every body through another stream (an AbortController and DOMException per request).
    maxRequestBodySize: false,
    cors: createCorsPolicy(config.corsOrigins),
    landingPage: false,
    logging: logger,
    maskedErrors: { isDev: config.exposeErrorDetails && !config.production },
    // Parse errors are cached like documents: both keep the document's text.
    parserAndValidationCache: {
      documentCache: createDocumentCache(metrics?.cacheLookup('documents')),
      errorCache: createDocumentCache(metrics?.cacheLookup('parse_errors')),
    },
    // Served by useGraphiQL below, compressed (yoga's sends the 9 MB page as it is), or not at all (GRAPHIQL=false).
    graphiql: false,
    plugins: [
      // Any answer given before the request's body was read (authentication's refusals) closes the connection.
      useCloseOnUnreadBody(),
      // The page runs nothing and needs no credential: answered before authentication.
      ...(config.graphiql
        ? [
            useGraphiQL({
              defaultQuery: DEFAULT_QUERY,
              defaultTabs: [...DEFAULT_TABS],
              title: 'Workflows GraphQL',
              subscriptionsProtocol: 'WS',
              ...graphiqlMarkerOptions(config.trustedDocuments),
            }),
          ]
        : []),
      // First: nothing is parsed, priced or run for a request that is not authenticated.
      ...(authenticator ? [useAuthentication({ authenticator, principals })] : []),
      // On the main port, /metrics is authenticated like /graphql (by the plugin above).
      ...(metrics && config.metrics.port === null
        ? [useMetricsEndpoint({ metrics, principals: authenticator ? principals : undefined })]
        : []),
      ...(documents ? [useTrustedDocuments(documents)] : []),
      graphqlSsePlugin({ config, logger, principals, ...(documents ? { documents } : {}) }),
      useUnbufferedEventStreams(),
      ...(metrics ? [useGraphQLMetrics(metrics)] : []),
      // Before the plugins that refuse operations (document limits, the cost limit): it sees their refusals.
      useOperationLifecycle({
        records: operations,
        logger,
        requestIds,
        principals,
        authenticated: authenticator !== undefined,
        // Tracing first: its span's context is the outermost, around everything the operation does.
        listeners: [
          ...(tracing ? [operationTracing(tracing)] : []),
          operationLog(logger),
          ...(metrics ? [operationMetrics(metrics)] : []),
        ],
      }),
      useDocumentLimits(config.documentLimits),
      // MAX_SUBSCRIPTIONS_PER_CONNECTION, for the graphql-ws and graphql-sse connections that claim slots.
      useSubscriptionSlots(),
      useCodedRequestErrors({ acceptedListLengths: acceptedListLengths(config) }),
      useQueryCostLimit({
        maxCost: config.maxQueryCost,
        onEstimate: (contextValue, cost) => {
          recordOperationCost(operations, contextValue, cost);
          metrics?.onEstimate(contextValue, cost);
        },
        onCacheLookup: metrics?.cacheLookup('query_cost'),
      }),
      // Last of the app's own: it wraps the executor's subscribe, after every plugin that may refuse or replace it.
      useSharedSubscriptionExecution(metrics ? { onExecution: metrics.liveExecuted } : {}),
      ...(options.plugins ?? []),
    ],
  });

  let ready = false;
  let stopping: Promise<void> | undefined;
  const readinessChecks: readonly ReadinessCheck[] = [
    acceptingWorkCheck(() => (stopping ? 'stopping' : ready ? 'listening' : 'starting')),
    ...(upstreamHealth ? [upstreamHealth.check] : []),
    ...(scaleOut ? [redisReadinessCheck(scaleOut.connection)] : []),
    ...(options.readinessChecks ?? []),
  ];
  let startStartupCheck: (() => void) | undefined;
  const startupCheck = new Promise<StartupCheckOutcome>((resolve) => {
    startStartupCheck = () =>
      resolve(
        upstreamHealth
          ? upstreamHealth.start(upstream.default)
          : {
              status: 'skipped',
              why: config.mode === 'local' ? 'local mode' : 'AUTH_MODE=cloudflare-token: the server has no token',
            },
      );
  });

  const browserSafety = createBrowserSafety(config);
  const listener = nodeRequestListener(yoga, logger);

  const server = createServer(httpServerOptions(config.requestTimeoutMs), (req, res) => {
    // Before the browser checks: load balancers and orchestrators probe with an IP address as Host, and the
    // answer reveals nothing and runs nothing.
    if (req.url === '/healthz' || req.url?.startsWith('/healthz?')) {
      const healthy = ready && stopping === undefined;
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ status: healthy ? 'ok' : 'unavailable', mode: config.mode }));
      return;
    }
    if (req.url === '/readyz' || req.url?.startsWith('/readyz?')) {
      void answerReadiness(res, readinessChecks, { stopping: stopping !== undefined });
      return;
    }
    if (!req.url?.startsWith('/')) {
      // A request target `*` or an absolute URL: not a route of this server, and the Fetch adapter would fail
      // on it with a 500 that carries a stack trace.
      refuse(req, res, 400, codedError('The request target must be a path such as /graphql.', 'BAD_REQUEST'));
      return;
    }
    const refusal = browserSafety.checkRequest(req);
    if (refusal) {
      logger.debug(
        { method: req.method, path: req.url?.split('?', 1)[0], code: refusal.error.extensions.code },
        'refused a request (browser safety)',
      );
      refuse(req, res, refusal.status, refusal.error);
      return;
    }
    // Params of up to 1 MiB per instance make unbounded bodies an easy way to exhaust memory. A chunked body is
    // counted as yoga reads it, after authentication, and refused here the moment it crosses the limit: yoga is
    // still reading then, and has answered nothing.
    const body = holdRequestBody(req, config.maxRequestBytes, (error) => {
      if (!res.headersSent) refuse(req, res, 413, error);
    });
    if (body.kind === 'too-large') {
      refuse(req, res, 413, body.error);
      return;
    }
    if (metrics && req.headers.accept?.includes('text/event-stream')) metrics.trackEventStream(res);
    // Writes the Response to `res`, and nothing to a response already refused above.
    listener(req, res);
  });

  answerClientErrors(server, config.requestTimeoutMs);

  let ws: WebSocketTransport | undefined;
  let metricsServer: MetricsServer | undefined;
  metrics?.collectFrom({
    budgets: () => upstream.budgets(),
    liveStats: () => live.stats(),
    webSocketConnections: () => ws?.connections ?? 0,
  });

  return {
    yoga,
    server,
    upstream,
    live,
    logger,
    metrics,
    get metricsUrl() {
      return metricsServer?.url;
    },
    scaleOut,
    startupCheck,
    async start(port = config.port, host = config.host) {
      // Before listening: the first requests already share the budget (unless Redis is unreachable for long).
      await scaleOut?.start();
      if (metrics && config.metrics.port !== null)
        metricsServer = await startMetricsServer(metrics, {
          port: config.metrics.port,
          host: config.metrics.host,
          // Scrapers address the port directly (by an IP address, often a pod's): see BrowserSafetyOptions.
          browserSafety: createBrowserSafety(config, { addressHosts: true }),
          requestTimeoutMs: config.requestTimeoutMs,
        });
      ws = attachWebSocket({
        server,
        yoga,
        config,
        logger,
        principals,
        requestIds,
        ...(authenticator ? { authenticator } : {}),
        ...(documents ? { documents } : {}),
      });
      let origin: string;
      try {
        origin = await listen(server, port, host, 'PORT');
      } catch (error) {
        // The metrics server started above would otherwise keep its port, and the process alive.
        await Promise.all([ws.close(), metricsServer?.close()]);
        metricsServer = undefined;
        throw error;
      }
      ready = true;
      startStartupCheck?.();
      return `${origin}/graphql`;
    },
    async reauthenticate() {
      await ws?.reauthenticate();
    },
    stop() {
      stopping ??= (async () => {
        ready = false;
        upstreamHealth?.stop();
        // Subscriptions end first so their sockets close with a proper close code, then HTTP drains.
        await Promise.all([ws?.close(), live.close()]);
        // Read before close(): close() clears `listening` at once, and the wait below would never happen.
        const listening = server.listening;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Idle keep-alive sockets go now; busy ones close when their response ends (Node >= 19 semantics).
        server.closeIdleConnections();
        const deadline = setTimeout(() => server.closeAllConnections(), 10_000);
        deadline.unref();
        if (listening) await closed;
        clearTimeout(deadline);
        await Promise.all([upstream.close(), metricsServer?.close()]);
        // After the upstream client: leases given back once no request can take one any more.
        await scaleOut?.stop();
        // Last: the spans of the requests drained above are exported too.
        await tracing?.shutdown();
      })();
      return stopping;
    },
  };
}

/**
 * Answers a request refused before its body was read with a GraphQL error, the shape of any other GraphQL
 * error response (a GraphQLError serialises as { message, extensions }), and closes the connection, so the
 * unread body cannot be taken for the next request.
 */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, error: GraphQLError): void {
  const body = JSON.stringify({ errors: [error] });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  // Mid-body: the client is still sending; without a short linger, the close would reset the answer away.
  if (!req.complete) lingerBeforeClose(req.socket);
  res.end(body);
  req.resume();
}
