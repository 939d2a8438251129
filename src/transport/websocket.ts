import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, type DocumentNode, type ExecutionArgs } from 'graphql';
import {
  CloseCode,
  handleProtocols,
  makeServer,
  type Context as WsContext,
  type ServerOptions,
  type SubscribePayload,
} from 'graphql-ws';
import type { Extra } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { KeySetUnavailable } from '../auth/jwt.js';
import { AuthenticationFailure, type Authenticator, type Principal } from '../auth/principal.js';
import type { Config } from '../config.js';
import type { Context, PrincipalRegistry } from '../context.js';
import { codedError } from '../errors/coded-error.js';
import { connectionLimitRefusal } from '../errors/subscription-errors.js';
import { resultWithoutHttp, withoutHttpExtension } from '../errors/without-http.js';
import type { Logger } from '../logger.js';
import { trustedParams } from '../trusted-documents/plugin.js';
import type { DocumentResolver } from '../trusted-documents/resolve.js';
import { REQUEST_ID_HEADER, type RequestIds } from '../operations/request-id.js';
import { createBrowserSafety } from './browser-safety.js';
import { isolated, nameAndMessage } from './executor-failure.js';
import { answerOnSocket } from './socket-answer.js';
import { subscriptionSlots } from './subscription-slots.js';
import { writeBatcher } from './write-batching.js';

/** The socket each WebSocket's upgrade came on, which ws writes its frames to. */
const upgradeSockets = new WeakMap<WebSocket, Duplex>();

/** Path graphql-ws is served on: the same as HTTP GraphQL, told apart by the `Upgrade` header. */
export const WEBSOCKET_PATH = '/graphql';
/** Close code for a server going down, as RFC 6455 names it. */
export const GOING_AWAY = 1001;
/** How long shutdown waits for completed subscriptions to reach their clients before closing sockets. */
const DRAIN_TIMEOUT_MS = 2_000;

export interface WebSocketTransport {
  /** Number of open WebSocket connections. */
  readonly connections: number;
  /**
   * Waits (briefly) for subscriptions ended by the live hub to send their `complete` messages, then
   * closes every socket with 1001 (going away) and stops accepting upgrades.
   */
  close(): Promise<void>;
  /**
   * Checks every open connection's credential again (after API keys were rotated): a connection whose
   * credential is no longer accepted closes with 4401.
   */
  reauthenticate(): Promise<void>;
}

export interface WebSocketDeps {
  readonly server: Server;
  readonly yoga: YogaServerInstance<Record<string, unknown>, Context>;
  readonly config: Config;
  readonly logger: Logger;
  /** Where the principal of each connection is left for the context factory (keyed by its upgrade request). */
  readonly principals: PrincipalRegistry;
  /**
   * Authenticates each connection from its `connection_init` payload (`{ "authorization": "Bearer …" }`);
   * unset: no authentication.
   */
  readonly authenticator?: Authenticator;
  /**
   * Trusted documents: every operation's document is resolved here, since graphql-ws builds no Yoga request whose
   * parameters the plugin's `onParams` could see (src/trusted-documents/plugin.ts); unset: its own `query` runs.
   */
  readonly documents?: DocumentResolver;
  /** The request id of each connection (its upgrade's `x-request-id`, else generated), echoed in the upgrade answer. */
  readonly requestIds?: RequestIds;
  /** Interval of keep-alive pings; a socket that misses a pong for as long is dropped. @default 12000 */
  readonly keepAliveMs?: number;
}

/** Yoga's enveloped `execute` and `subscribe` of one operation. */
interface Enveloped {
  execute(args: ExecutionArgs): unknown;
  subscribe(args: ExecutionArgs): unknown;
}

/**
 * The enveloped functions of each operation, by the arguments `onSubscribe` gives graphql-ws, which hands the same
 * object to `execute` or `subscribe`: taken out there, so that nothing keeps them (and the envelop closures they
 * hold) for as long as a subscription lives. As a root value, graphql-js' execution context kept them.
 */
const envelopedOf = new WeakMap<object, Enveloped>();

function takeEnveloped(args: object): Enveloped {
  const enveloped = envelopedOf.get(args);
  if (enveloped === undefined) throw new Error('graphql-ws ran an operation onSubscribe did not prepare');
  envelopedOf.delete(args);
  return enveloped;
}

/**
 * Serves the `graphql-transport-ws` protocol on the HTTP server's `/graphql` path (the yoga recipe: every
 * operation runs through `yoga.getEnveloped`, so plugins, context and error masking match HTTP). Pings
 * every `keepAliveMs`; refuses a subscription beyond `maxSubscriptionsPerConnection` with a
 * `SUBSCRIPTION_LIMIT` error for that operation only (the server-wide limit is the live hub's).
 */
export function attachWebSocket(deps: WebSocketDeps): WebSocketTransport {
  const { yoga, config, logger } = deps;
  // One message may be as large as one HTTP body (ws' own default is 100 MiB); larger ones close with 1009.
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxRequestBytes });
  const { requestIds } = deps;
  if (requestIds) {
    // The connection's id, which every operation line of the connection carries, goes back in the 101 answer.
    wss.on('headers', (headers: string[], request: IncomingMessage) => {
      headers.push(`${REQUEST_ID_HEADER}: ${requestIds.of(fetchRequestOf(request))}`);
    });
  }
  const active = new WeakMap<WsContext<Record<string, unknown>, Extra>, ConnectionOperations>();
  const connections = new Set<ConnectionOperations>();
  /** Open connections that authenticated, to check again when credentials rotate. */
  const authenticated = new Set<WsContext<Record<string, unknown>, Extra>>();
  let closing: Promise<void> | undefined;

  const browserSafety = createBrowserSafety(config);

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Browsers apply no CORS to WebSocket handshakes: the Host and Origin checks are all that keeps a page on
    // another site from reading subscriptions (src/transport/browser-safety.ts).
    const refusal = browserSafety.checkUpgrade(request);
    if (refusal) {
      logger.debug({ code: refusal.error.extensions.code }, 'refused a WebSocket upgrade (browser safety)');
      answerOnSocket(socket, refusal.status, JSON.stringify({ errors: [refusal.error] }));
      return;
    }
    const path = (request.url ?? '').split('?')[0];
    if (path !== WEBSOCKET_PATH || closing) {
      answerOnSocket(socket, closing ? 503 : 404);
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      upgradeSockets.set(ws, socket);
      wss.emit('connection', ws, request);
    });
  };
  deps.server.on('upgrade', onUpgrade);

  const disposable = serveProtocol(
    {
      execute: (args) => isolated(() => takeEnveloped(args).execute(args), logger) as never,
      subscribe: (args) => isolated(() => takeEnveloped(args).subscribe(args), logger) as never,
      onConnect: async (ctx) => {
        if (deps.authenticator && !(await authenticateConnection(ctx, deps.authenticator, deps.principals))) {
          return false;
        }
        const operations: ConnectionOperations = { subscriptions: new Set(), running: new Set() };
        active.set(ctx, operations);
        connections.add(operations);
        if (deps.authenticator) authenticated.add(ctx);
        return true;
      },
      onClose: (ctx) => {
        authenticated.delete(ctx);
        clearTimeout(expiries.get(ctx));
        const operations = active.get(ctx);
        if (operations) connections.delete(operations);
      },
      onSubscribe: async (ctx, id, given: SubscribePayload) => {
        const request = fetchRequestOf(ctx.extra.request);
        // A refused document is refused by the parse phase below (src/trusted-documents/plugin.ts). GraphiQL says it
        // is GraphiQL in `connection_init`, as it sends its headers there.
        const payload: SubscribePayload = deps.documents
          ? trustedParams(deps.documents, given, connectionHeaders(request.headers, ctx.connectionParams))
          : given;
        const operations = active.get(ctx);
        // Not graphql-ws' own `ctx` spread in, as yoga's recipe does: nothing reads it from the context, and a
        // context made from a spread of it took a hidden class (a descriptor array, ~0.4 KB) of its own per
        // subscription.
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          request,
          // Claimed once the subscription has validated, before the first await, so that subscribes pipelined on
          // one socket see each other and the limit holds (./subscription-slots.ts).
          ...subscriptionSlots(() => {
            if (!operations) return undefined;
            if (operations.subscriptions.size >= config.maxSubscriptionsPerConnection) {
              return connectionLimitRefusal(config.maxSubscriptionsPerConnection, 'connection');
            }
            operations.subscriptions.add(id);
            return undefined;
          }),
        });
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          // yoga sets GRAPHQL_PARSE_FAILED on parse errors; anything else parse throws gets the same code here.
          return [
            error instanceof GraphQLError
              ? error
              : codedError('The query is not valid GraphQL.', 'GRAPHQL_PARSE_FAILED'),
          ];
        }
        // The same text, but the parse cache's copy (the cache is keyed by the text): the params a subscription
        // keeps for its life then share one copy of a document's text instead of each holding the one its message
        // brought (a dashboard's documents run to kilobytes).
        const text = document.loc?.source.body;
        if (text !== undefined && text === payload.query) (payload as { query: string }).query = text;
        let errors: readonly GraphQLError[];
        try {
          errors = validate(schema, document);
        } catch (error) {
          // Validation rules that refuse a whole operation throw their (coded) error: src/transport/document-limits.ts,
          // and so does the subscription limit.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        if (errors.length > 0) return errors;
        // Every operation, queries and mutations too, is waited for at shutdown, so a mutation's outcome reaches
        // its client before the socket closes.
        operations?.running.add(id);
        let contextValue: Awaited<ReturnType<typeof contextFactory>>;
        try {
          contextValue = await contextFactory();
        } catch (error) {
          // Its slot is given back: graphql-ws never calls `onComplete` for it.
          operations?.subscriptions.delete(id);
          operations?.running.delete(id);
          throw error;
        }
        const args = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue,
          // Set, so that graphql-ws does not put its own `roots` there.
          rootValue: undefined,
        };
        envelopedOf.set(args, { execute, subscribe });
        return args;
      },
      onComplete: (ctx, id) => {
        const operations = active.get(ctx);
        operations?.subscriptions.delete(id);
        operations?.running.delete(id);
      },
      onNext: (_ctx, _id, _payload, _args, result) => resultWithoutHttp(result),
      onError: (_ctx, _id, _payload, errors) => errors.map(withoutHttpExtension),
    },
    wss,
    deps.keepAliveMs ?? 12_000,
    logger,
  );

  return {
    get connections() {
      return wss.clients.size;
    },
    async reauthenticate() {
      const { authenticator } = deps;
      if (!authenticator) return;
      await Promise.all(
        [...authenticated].map(async (ctx) => {
          if (!(await authenticateConnection(ctx, authenticator, deps.principals))) authenticated.delete(ctx);
        }),
      );
    },
    close() {
      closing ??= (async () => {
        deps.server.off('upgrade', onUpgrade);
        await drained(connections, DRAIN_TIMEOUT_MS);
        for (const client of wss.clients) client.close(GOING_AWAY, 'Server shutting down');
        const closed = Promise.all(
          [...wss.clients].map(
            (client) =>
              new Promise<void>((resolve) => {
                if (client.readyState === client.CLOSED) resolve();
                else client.once('close', () => resolve());
              }),
          ),
        );
        // A client that never answers the close handshake must not hold shutdown.
        const timer = setTimeout(() => {
          for (const client of wss.clients) client.terminate();
        }, DRAIN_TIMEOUT_MS);
        await closed;
        clearTimeout(timer);
        await disposable.dispose();
        logger.debug('WebSocket transport closed');
      })();
      return closing;
    },
  };
}

/** Close code for a connection without a valid credential (graphql-ws' own `Unauthorized`). */
export const UNAUTHORIZED = 4401;
/** Close code while credentials cannot be checked (RFC 6455 "Try Again Later"). */
export const TRY_AGAIN_LATER = 1013;

/** Timers that close a connection when its credential expires (a JWT's `exp`). */
const expiries = new WeakMap<WsContext<Record<string, unknown>, Extra>, NodeJS.Timeout>();

/**
 * The headers a connection authenticates with: its upgrade request's, overridden by the string entries of its
 * `connection_init` payload (browsers cannot set headers on a WebSocket upgrade, so `authorization` and
 * `x-cloudflare-account-id` travel there; GraphiQL sends its headers editor's content as typed, any case).
 */
function connectionHeaders(upgrade: Headers, params: Readonly<Record<string, unknown>> | undefined): Headers {
  const headers = new Headers(upgrade);
  for (const [name, value] of Object.entries(params ?? {})) {
    if (typeof value !== 'string') continue;
    try {
      headers.set(name, value);
    } catch {
      // Not a valid header name or value: not a credential either.
    }
  }
  return headers;
}

/**
 * Authenticates a connection from its `connection_init` payload. A missing or invalid credential closes
 * the socket with 4401; a credential that expires (a JWT) closes it with 4401 when it does. The principal is
 * registered for the connection's upgrade request, which every operation of the connection shares.
 */
async function authenticateConnection(
  ctx: WsContext<Record<string, unknown>, Extra>,
  authenticator: Authenticator,
  principals: PrincipalRegistry,
): Promise<boolean> {
  const request = fetchRequestOf(ctx.extra.request);
  let principal: Principal;
  try {
    const headers = connectionHeaders(request.headers, ctx.connectionParams);
    principal = await authenticator.authenticate(headers.get('authorization'), headers);
  } catch (error) {
    if (error instanceof KeySetUnavailable) {
      ctx.extra.socket.close(TRY_AGAIN_LATER, 'The server cannot check credentials right now.');
      return false;
    }
    if (!(error instanceof AuthenticationFailure)) throw error;
    ctx.extra.socket.close(UNAUTHORIZED, error.message.slice(0, 120));
    return false;
  }
  principals.set(request, principal);
  clearTimeout(expiries.get(ctx));
  // The client may have left while its credential was checked (a JWKS fetch): no timer for a closed socket.
  if (principal.expiresAt !== undefined && ctx.extra.socket.readyState === ctx.extra.socket.OPEN) {
    const socket = ctx.extra.socket;
    const close = () => socket.close(UNAUTHORIZED, 'The credential has expired.');
    const remaining = principal.expiresAt - Date.now();
    if (remaining <= 0) {
      close();
      return false;
    }
    // setTimeout holds 32-bit delays: a far expiry is checked again when the first timer fires.
    const timer = setTimeout(
      function check() {
        const left = (principal.expiresAt ?? 0) - Date.now();
        if (left <= 0) close();
        else expiries.set(ctx, setTimeout(check, Math.min(left, 2 ** 31 - 1)));
      },
      Math.min(remaining, 2 ** 31 - 1),
    );
    expiries.set(ctx, timer);
  }
  return true;
}

/**
 * Fetch `Request`s of upgrade requests: every operation of a connection shares its connection's one, since
 * they all come with the same headers (a `Request` with its headers, URL and signal is about 1 KB, too much
 * to hold once per subscription when a connection carries hundreds).
 */
const fetchRequests = new WeakMap<IncomingMessage, Request>();

function fetchRequestOf(request: IncomingMessage): Request {
  let converted = fetchRequests.get(request);
  if (converted === undefined) {
    converted = toFetchRequest(request);
    fetchRequests.set(request, converted);
  }
  return converted;
}

/** The upgrade request as a Fetch `Request`, which is what the context factory reads credentials from. */
function toFetchRequest(request: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const host = request.headers.host ?? 'localhost';
  // POST although the upgrade was a GET: yoga refuses mutations in a GET request (a link or an <img> could send
  // one), which does not apply to a socket whose upgrade passed the Origin check and whose credential came in
  // `connection_init`. graphql-ws carries mutations like any other operation.
  return new Request(`http://${host}${request.url ?? WEBSOCKET_PATH}`, { method: 'POST', headers });
}

/**
 * Runs graphql-ws' protocol on the sockets `wss` accepts: graphql-ws' own `useServer` (graphql-ws/use/ws) with its
 * `console.error` calls replaced by our logger. Those print an error's stack (file paths of this server) for every
 * frame ws refuses, which any client can send as often as it likes. Each error path logs at the level of whose
 * fault it is: `debug` for what a client did or a client that left, `error` for a failure of this server.
 */
function serveProtocol(
  options: ServerOptions<Record<string, unknown>, Extra>,
  wss: WebSocketServer,
  keepAliveMs: number,
  logger: Logger,
): { dispose(): Promise<void> } {
  const protocol = makeServer(options);
  wss.options.handleProtocols = handleProtocols;
  // `on`, not `once`: an `error` event without a listener would throw and end the process.
  wss.on('error', (error) => {
    logger.error({ error: nameAndMessage(error) }, 'WebSocket server failed');
    for (const client of wss.clients) client.close(CloseCode.InternalServerError, 'Internal server error');
  });
  wss.on('connection', (socket, request) => {
    // ws emits `error` for a frame it refuses (too large, text that is not UTF-8, reserved bits set), after it has
    // begun closing the socket with the code RFC 6455 gives (1009, 1007, 1002): the client's mistake, not ours.
    socket.on('error', (error) => {
      logger.debug(
        { error: nameAndMessage(error), code: (error as NodeJS.ErrnoException).code },
        'WebSocket client sent a frame ws refused',
      );
      if (socket.readyState === socket.OPEN) socket.close(CloseCode.InternalServerError, 'Internal server error');
    });
    let pongWait: NodeJS.Timeout | undefined;
    // As graphql-ws' own server: no pings unless the interval is positive and finite.
    const pings =
      keepAliveMs > 0 && Number.isFinite(keepAliveMs)
        ? setInterval(() => {
            if (socket.readyState !== socket.OPEN) return;
            pongWait = setTimeout(() => socket.terminate(), keepAliveMs);
            socket.once('pong', () => clearTimeout(pongWait));
            socket.ping();
          }, keepAliveMs)
        : undefined;
    // The upgrade's own socket, under ws' frames: the messages of one burst leave together.
    const raw = upgradeSockets.get(socket);
    const batchWrites = raw ? writeBatcher(raw) : () => undefined;
    const closed = protocol.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            batchWrites();
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', (data: RawData) => {
            handle(String(data)).catch((error: unknown) => {
              if (socket.readyState !== socket.OPEN) {
                // The client left while its message was handled (a send to a closing socket fails): nothing to fix.
                logger.debug({ error: nameAndMessage(error) }, 'graphql-ws message handling ended with the socket');
                return;
              }
              // One of our hooks threw (onSubscribe building a context, say): the server's fault, told without a stack.
              logger.error({ error: nameAndMessage(error) }, 'graphql-ws message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => {
      clearTimeout(pongWait);
      clearInterval(pings);
      closed(code, String(reason)).catch((error: unknown) => {
        logger.error({ error: nameAndMessage(error) }, 'graphql-ws cleanup after a close failed');
      });
    });
  });
  return {
    async dispose() {
      for (const client of wss.clients) client.close(GOING_AWAY, 'Going away');
      wss.removeAllListeners();
      await new Promise<void>((resolve, reject) => wss.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/** The operations of one connection: its subscriptions (counted against the limit) and all it is running. */
interface ConnectionOperations {
  readonly subscriptions: Set<string>;
  readonly running: Set<string>;
}

/** Resolves once no connection runs an operation, or after `timeoutMs`. */
async function drained(connections: Set<ConnectionOperations>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ([...connections].some((c) => c.running.size > 0) && Date.now() < deadline) {
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
}
