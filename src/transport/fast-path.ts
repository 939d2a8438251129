import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  getInstrumented,
  handleErrorFromRequestHandler,
  normalizeNodeRequest,
  sendNodeResponse,
  type ServerAdapterInitialContext,
  type ServerAdapterRequestHandler,
} from '@whatwg-node/server';
import { maskError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from '../logger.js';

/**
 * Answers the commonest request, a JSON POST to `/graphql` with a declared length, with Yoga's own parts in Yoga's
 * order but without its generic request machinery (issue 17: that machinery, not the operation, was most of the
 * gateway's CPU per request). It returns false, and leaves the request untouched, for anything else: GET, SSE,
 * multipart, chunked bodies and every other route keep going through `yoga.requestListener`.
 *
 * What runs, and why the answer is Yoga's:
 * - the same Fetch `Request` (@whatwg-node/server's `normalizeNodeRequest`) and server context (`req`, `res`,
 *   `waitUntil`) as `requestListener` makes;
 * - every plugin's `onRequest` hooks, in order, with early answers (authentication's refusals, CORS, GraphiQL),
 *   then every plugin's `onResponse` hooks: the adapter's own loop over the same plugin list (Yoga's `plugins`,
 *   with those that plugins add), so a plugin added later is covered without a change here;
 * - Yoga's `getResultForParams` (its `onParams` hooks: parameter checks, trusted documents; the enveloped parse,
 *   validate, context, execute and subscribe; error masking; `onExecutionResult` hooks) inside the plugins'
 *   `operation` instrumentation, and its `onResultProcess` hooks and the result processor they pick;
 * - @whatwg-node/server's `sendNodeResponse` to write whatever Response that gives (a stream too).
 *
 * Requests that accept a streamed answer (`text/event-stream`, `multipart/mixed`) keep Yoga's whole path too.
 *
 * What it replaces is only Yoga's request parsing for this one shape: the body is read from the Node request
 * (bounded by MAX_REQUEST_BYTES before this runs, src/transport/request-body.ts) and parsed once. A body that is not
 * a JSON object, the one case where Yoga's parser answers instead of a plugin, goes to `yoga.handle` with that body,
 * so that the parser's own error is the answer. The server refuses to take this path at all when a plugin hooks
 * what it skips (request or request-parse instrumentation, another `onRequestParse` than Yoga's own and ours:
 * {@link KNOWN_REQUEST_PARSE_HOOKS}). test/integration/fast-path.test.ts sends the same requests down both paths and
 * compares the answers.
 */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/** The route of the fast path: exactly the GraphQL endpoint, without a query string. */
const GRAPHQL_PATH = '/graphql';

/** Accepting one of these may get a streamed answer. */
const STREAMING_MEDIA_TYPES = /text\/event-stream|multipart\/mixed/i;

/**
 * How many `onRequestParse` hooks the app's Yoga has, all of which the fast path's parsing stands in for: Yoga's
 * five request parsers (GET, JSON, multipart, `application/graphql`, form) only one of which matches a JSON POST,
 * its method check, its batching limit, and src/transport/request-errors.ts (which codes GET's unparsable JSON).
 * Another hook (a plugin that parses requests its own way) turns the fast path off: see {@link createFastPath}.
 */
export const KNOWN_REQUEST_PARSE_HOOKS = 8;

/** The parts of Yoga's server the fast path uses that its typings keep private (graphql-yoga 5.24, pinned). */
interface YogaInternals {
  /** Every plugin, with those plugins add (envelop's `_plugins`): the list the adapter takes its hooks from. */
  readonly plugins?: readonly Plugin[];
  readonly instrumentation?: {
    readonly operation?: unknown;
    readonly request?: unknown;
    readonly requestParse?: unknown;
    readonly resultProcess?: unknown;
  };
  readonly onRequestParseHooks?: readonly unknown[];
  readonly onResultProcessHooks?: readonly OnResultProcessHook[];
  readonly maskedErrorsOpts?: { maskError: typeof maskError; errorMessage: string; isDev?: boolean } | null;
  readonly getResultForParams: (
    payload: { params: unknown; request: Request },
    context: Record<string, unknown>,
  ) => Promise<unknown> | unknown;
  readonly handle: ServerAdapterRequestHandler<ServerContext>;
}

type ResultProcessor = (result: unknown, fetchAPI: unknown, acceptedMediaType: string) => Response | Promise<Response>;
type OnResultProcessHook = (payload: {
  request: Request;
  acceptableMediaTypes: string[];
  result: unknown;
  setResult(result: unknown): void;
  resultProcessor: ResultProcessor | undefined;
  setResultProcessor(processor: ResultProcessor, acceptedMediaType: string): void;
  serverContext: ServerContext;
}) => unknown;

/** What `requestListener` gives Yoga as the server context. */
type ServerContext = Record<string, unknown> & ServerAdapterInitialContext;

type OnRequestHook = NonNullable<Plugin['onRequest']>;
type OnResponseHook = NonNullable<Plugin['onResponse']>;

/** Why the fast path is off, or undefined when it can be on. */
export function fastPathUnavailable<T extends object>(
  yoga: YogaServerInstance<Record<string, unknown>, T>,
): string | undefined {
  const internals = yoga as unknown as YogaInternals;
  if (!Array.isArray(internals.plugins)) return "Yoga's plugin list is not readable";
  if (!Array.isArray(internals.onResultProcessHooks) || !Array.isArray(internals.onRequestParseHooks))
    return "Yoga's hook lists are not readable";
  if (typeof internals.getResultForParams !== 'function') return "Yoga's getResultForParams is missing";
  const { instrumentation } = internals;
  if (instrumentation?.request || instrumentation?.requestParse || instrumentation?.resultProcess)
    return 'a plugin instruments the request, its parsing or its result processing';
  if (internals.onRequestParseHooks.length !== KNOWN_REQUEST_PARSE_HOOKS)
    return `a plugin parses requests (${internals.onRequestParseHooks.length} onRequestParse hooks, not ${KNOWN_REQUEST_PARSE_HOOKS})`;
  return undefined;
}

/** The fast path of `yoga`, or undefined (with the reason logged) when a plugin needs Yoga's whole path. */
export function createFastPath<T extends object>(
  yoga: YogaServerInstance<Record<string, unknown>, T>,
  logger: Logger,
): FastPath | undefined {
  const unavailable = fastPathUnavailable(yoga);
  if (unavailable !== undefined) {
    logger.info({ reason: unavailable }, 'every HTTP request goes through Yoga (no fast path)');
    return undefined;
  }
  const internals = yoga as unknown as YogaInternals;
  const { fetchAPI } = yoga;
  const plugins = internals.plugins ?? [];
  const onRequestHooks: OnRequestHook[] = plugins.flatMap((plugin) => (plugin.onRequest ? [plugin.onRequest] : []));
  const onResponseHooks: OnResponseHook[] = plugins.flatMap((plugin) => (plugin.onResponse ? [plugin.onResponse] : []));
  const onResultProcessHooks = internals.onResultProcessHooks ?? [];
  const operationInstrumentation = internals.instrumentation?.operation;
  const waitUntil = (promise: Promise<unknown> | void) => {
    void promise?.catch((error: unknown) => logger.error('a deferred task failed', error));
  };

  // As createServerAdapter chooses them for Yoga's ponyfilled fetch API.
  const customAbortController = fetchAPI.Request !== globalThis.Request;
  const handle = internals.handle.bind(yoga);
  const getResultForParams = internals.getResultForParams.bind(yoga);
  const resultForParams = (params: unknown, request: Request, context: Record<string, unknown>) =>
    operationInstrumentation
      ? getInstrumented({ context, request }).asyncFn(
          operationInstrumentation as Parameters<ReturnType<typeof getInstrumented>['asyncFn']>[0],
          getResultForParams,
        )({ params, request }, context)
      : getResultForParams({ params, request }, context);

  /** What Yoga's `handle` answers when something throws outside the operation (its own `catch`). */
  const unexpected = (error: unknown) => {
    const options = internals.maskedErrorsOpts;
    const masked = options ? options.maskError(error, options.errorMessage, options.isDev) : error;
    if (masked !== error) logger.error(error);
    return { errors: [masked] };
  };

  async function processResult(request: Request, result: unknown, serverContext: ServerContext) {
    let processor: ResultProcessor | undefined;
    let mediaType = '*/*';
    const acceptableMediaTypes: string[] = [];
    for (const hook of onResultProcessHooks) {
      await hook({
        request,
        acceptableMediaTypes,
        result,
        setResult: (next) => (result = next),
        resultProcessor: processor,
        setResultProcessor: (next, accepted) => {
          processor = next;
          mediaType = accepted;
        },
        serverContext,
      });
    }
    if (!processor) {
      return new fetchAPI.Response(null, {
        status: 406,
        statusText: 'Not Acceptable',
        headers: { accept: acceptableMediaTypes.join('; charset=utf-8, ') },
      });
    }
    return processor(result, fetchAPI, mediaType);
  }

  /** The request, once the `onRequest` hooks have run (one may replace it), and the answer to it. */
  interface Exchange {
    request: Request;
    response: Response;
  }

  async function respond(exchange: { request: Request }, serverContext: ServerContext, req: IncomingMessage) {
    let early: Response | undefined;
    let url: URL | undefined;
    for (const hook of onRequestHooks) {
      await hook({
        request: exchange.request,
        setRequest: (next: Request) => (exchange.request = next),
        serverContext,
        fetchAPI,
        get url() {
          return (url ??= new fetchAPI.URL(exchange.request.url, 'http://localhost'));
        },
        requestHandler: handle,
        setRequestHandler: () => {
          throw new Error('the fast path cannot replace its request handler');
        },
        endResponse: (response: Response) => (early = response),
      } as unknown as Parameters<OnRequestHook>[0]);
      if (early) return early;
    }
    const { request } = exchange;
    const text = await readBody(req);
    let params: unknown;
    try {
      params = JSON.parse(text);
    } catch {
      params = undefined;
    }
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
      // Yoga's parser answers these (invalid JSON, `null`, a batch): it reads this body.
      return handle(withBody(request, text), serverContext);
    }
    let result: unknown;
    try {
      result = await resultForParams(params, request, serverContext);
    } catch (error) {
      result = unexpected(error);
    }
    return processResult(request, result, serverContext);
  }

  /** The `onResponse` hooks, as the adapter runs them after its request handler. */
  async function afterResponse(exchange: Exchange, serverContext: ServerContext) {
    for (const hook of onResponseHooks) {
      await hook({
        request: exchange.request,
        response: exchange.response,
        serverContext,
        setResponse: (next: Response) => (exchange.response = next),
        fetchAPI,
      } as unknown as Parameters<OnResponseHook>[0]);
    }
    return exchange.response;
  }

  /**
   * `request` (the one the plugins have seen, and keyed things by) reading `text` as its body, for Yoga's parser: the
   * ponyfill's `json()` reads `text()`, so its errors are those of a body it read itself.
   */
  function withBody(request: Request, text: string): Request {
    Object.defineProperty(request, 'text', { value: () => Promise.resolve(text) });
    return request;
  }

  async function serve(req: IncomingMessage, res: ServerResponse) {
    const serverContext: ServerContext = { req, res, waitUntil };
    const exchange = { request: normalizeNodeRequest(req, fetchAPI, res, customAbortController) as Request };
    let response: Response;
    try {
      const answer = await respond(exchange, serverContext, req);
      response = await afterResponse({ request: exchange.request, response: answer }, serverContext);
    } catch (error) {
      // As the adapter's requestListener: a hook that throws gets its generic answer, without `onResponse` hooks.
      response = handleErrorFromRequestHandler(error, fetchAPI.Response) as Response;
    }
    await sendNodeResponse(response as never, res, req, true);
  }

  return (req, res) => {
    if (req.method !== 'POST' || req.url !== GRAPHQL_PATH) return false;
    if (req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] === undefined) return false;
    const contentType = req.headers['content-type']?.split(',')[0];
    if (contentType !== 'application/json' && !contentType?.startsWith('application/json;')) return false;
    // Streamed answers (SSE, incremental delivery) keep Yoga's whole path, which src/transport/sse.ts is tested on.
    const accept = req.headers.accept;
    if (accept !== undefined && STREAMING_MEDIA_TYPES.test(accept)) return false;
    serve(req, res).catch((error: unknown) => {
      logger.error('the fast path failed to answer a request', error);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
    return true;
  };
}

/** The whole body of `req`, which Node's parser bounds by its declared length. */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('The client closed the connection before its request body ended.'));
    });
  });
}
