import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { GraphQLError } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.js';
import type { Authenticator } from './auth/principal.js';
import { createContextFactory, type PrincipalRegistry } from './context.js';
import { useAuthentication } from './transport/authentication.js';
import { createCorsPolicy } from './cors.js';
import { useQueryCostLimit } from './cost/plugin.js';
import { codedError } from './errors/coded-error.js';
import { createLogger, type Logger } from './logger.js';
import { schema } from './schema/index.js';
import { longestAcceptedList } from './schema/list-limits.js';
import { createLiveHub, type ManagedLiveHub } from './subscriptions/live-hub.js';
import { createBrowserSafety } from './transport/browser-safety.js';
import { attachWebSocket, type WebSocketTransport } from './transport/websocket.js';
import { graphqlSsePlugin } from './transport/sse.js';
import { createDocumentCache, useDocumentLimits } from './transport/document-limits.js';
import { useCodedRequestErrors } from './transport/request-errors.js';
import { answerOnSocket } from './transport/socket-answer.js';
import { DEFAULT_QUERY, renderOfflineGraphiQL } from './graphiql.js';
import { createUpstream, type Upstream } from './upstream/client.js';
import { operationUpstreamObserver, recordOperationCost, useOperationLog } from './logging/operation-log.js';
import { createRequestIds } from './logging/request-id.js';
import type { Context } from './context.js';

export interface App {
  readonly yoga: YogaServerInstance<Record<string, unknown>, Context>;
  readonly server: Server;
  readonly upstream: Upstream;
  readonly live: ManagedLiveHub;
  readonly logger: Logger;
  /** Listens on `port` (0 picks a free one) and resolves with the GraphQL endpoint's URL. */
  start(port?: number, host?: string): Promise<string>;
  /** Checks open WebSocket connections' credentials again (after a key rotation); refused ones close with 4401. */
  reauthenticate(): Promise<void>;
  /** Stops accepting work, lets in-flight requests finish, completes subscriptions, closes every socket. */
  stop(): Promise<void>;
}

/** Builds the gateway without listening: tests can use `yoga.fetch` or `start(0)`. */
export interface AppOptions {
  logger?: Logger;
  /** Authenticates every request and WebSocket connection (see `auth/`); unset: no authentication (anonymous). */
  authenticator?: Authenticator;
}

export function createApp(config: Config, options: AppOptions = {}): App {
  const logger =
    options.logger ?? createLogger(config.logLevel, [config.upstream.apiToken], { format: config.logFormat });
  const upstream = createUpstream(config.upstream, { logger, observer: operationUpstreamObserver });
  const requestIds = createRequestIds();
  const live = createLiveHub({ config, upstream, logger });
  const authenticator = options.authenticator?.mode === 'none' ? undefined : options.authenticator;
  const principals: PrincipalRegistry = new WeakMap();
  const context = createContextFactory({
    config,
    upstream,
    live,
    principals,
    authenticated: authenticator !== undefined,
    logger,
  });

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    // `req`: the Node request of HTTP and WebSocket operations, whose address is the client's for fairness.
    context: ({ request, req }) => context(request, req),
    graphqlEndpoint: '/graphql',
    // The http handler below already refuses bodies over MAX_REQUEST_BYTES before reading them; yoga's own
    // check would copy every body through another stream (an AbortController and DOMException per request).
    maxRequestBodySize: false,
    cors: createCorsPolicy(config.corsOrigins),
    landingPage: false,
    logging: logger,
    maskedErrors: { isDev: config.exposeErrorDetails && !config.production },
    // Parse errors are cached like documents: both keep the document's text.
    parserAndValidationCache: { documentCache: createDocumentCache(), errorCache: createDocumentCache() },
    graphiql: { defaultQuery: DEFAULT_QUERY, title: 'Workflows GraphQL', subscriptionsProtocol: 'WS' },
    renderGraphiQL: renderOfflineGraphiQL,
    plugins: [
      // First: nothing is parsed, priced or run for a request that is not authenticated.
      ...(authenticator ? [useAuthentication({ authenticator, principals })] : []),
      graphqlSsePlugin({ config, logger, principals }),
      // Before the cost limit: it sees the results of executions the limit stops.
      useOperationLog({ logger, requestIds, principals, authenticated: authenticator !== undefined }),
      useDocumentLimits(config.documentLimits),
      useCodedRequestErrors({ longestAcceptedList: longestAcceptedList(config) }),
      useQueryCostLimit({ maxCost: config.maxQueryCost, onEstimate: recordOperationCost }),
    ],
  });

  let ready = false;
  let stopping: Promise<void> | undefined;

  const browserSafety = createBrowserSafety(config);

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // Before the browser checks: load balancers and orchestrators probe with an IP address as Host, and the
    // answer reveals nothing and runs nothing.
    if (req.url === '/healthz' || req.url?.startsWith('/healthz?')) {
      const healthy = ready && stopping === undefined;
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ status: healthy ? 'ok' : 'unavailable', mode: config.mode }));
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
    const declared = Number(req.headers['content-length'] ?? 0);
    if (
      declared > config.maxRequestBytes ||
      (req.headers['transfer-encoding'] !== undefined && req.method === 'POST')
    ) {
      // Refused before reading: params of up to 1 MiB per instance make unbounded bodies an easy way to exhaust memory.
      const tooLarge = declared > config.maxRequestBytes;
      const error = tooLarge
        ? codedError(
            `The request body is ${declared} bytes; the limit is ${config.maxRequestBytes} (MAX_REQUEST_BYTES).`,
            'REQUEST_TOO_LARGE',
          )
        : codedError('POST bodies need a Content-Length header.', 'LENGTH_REQUIRED');
      refuse(req, res, tooLarge ? 413 : 411, error);
      return;
    }
    // requestListener also writes the Response to `res` (handleNodeRequestAndResponse only returns it).
    void yoga.requestListener(req, res);
  });

  // Requests Node's HTTP parser refuses (conflicting lengths, oversized headers, a malformed request line) never
  // reach the handler above; Node's default answer has no body, so it would be the one answer without a code.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return;
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const message =
      status === 431 ? 'The request headers are too large.' : 'The request is not a well-formed HTTP/1.1 request.';
    answerOnSocket(socket, status, JSON.stringify({ errors: [codedError(message, 'BAD_REQUEST')] }));
  });

  let ws: WebSocketTransport | undefined;

  return {
    yoga,
    server,
    upstream,
    live,
    logger,
    async start(port = config.port, host = config.host) {
      ws = attachWebSocket({
        server,
        yoga,
        config,
        logger,
        principals,
        requestIds,
        ...(authenticator ? { authenticator } : {}),
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      ready = true;
      const { address, port: actual } = server.address() as AddressInfo;
      const shown = address.includes(':') ? `[${address}]` : address;
      return `http://${shown}:${actual}/graphql`;
    },
    async reauthenticate() {
      await ws?.reauthenticate();
    },
    stop() {
      stopping ??= (async () => {
        ready = false;
        // Subscriptions end first so their sockets close with a proper close code, then HTTP drains.
        await Promise.all([ws?.close(), live.close()]);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Idle keep-alive sockets go now; busy ones close when their response ends (Node >= 19 semantics).
        server.closeIdleConnections();
        const deadline = setTimeout(() => server.closeAllConnections(), 10_000);
        deadline.unref();
        if (server.listening) await closed;
        clearTimeout(deadline);
        await upstream.close();
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
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify({ errors: [error] }));
  req.resume();
}
