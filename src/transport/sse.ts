import { getOperationAST, type ExecutionResult, type GraphQLError } from 'graphql';
import {
  createHandler,
  isAsyncIterable,
  TOKEN_HEADER_KEY,
  TOKEN_QUERY_KEY,
  type Request as SseRequest,
  type RequestParams,
  type Response as SseResponse,
} from 'graphql-sse';
import type { Plugin, YogaServerInstance } from 'graphql-yoga';
import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { clientKeyOf, type PrincipalRegistry } from '../context.js';
import { codedError, unexpectedError } from '../errors/coded-error.js';
import type { ErrorCode } from '../errors/codes.js';
import { connectionLimitRefusal } from '../errors/subscription-errors.js';
import { resultWithoutHttp } from '../errors/without-http.js';
import type { Logger } from '../logger.js';
import { trustedParams } from '../trusted-documents/plugin.js';
import type { DocumentResolver } from '../trusted-documents/resolve.js';
import { createStreamRegistry, type StreamOperation, type StreamRegistry } from './sse-streams.js';
import { isolated, nameAndMessage } from './executor-failure.js';
import { subscriptionSlots } from './subscription-slots.js';

/** Where the graphql-sse "single connection" mode is served (reservations via PUT, the stream via GET). */
export const GRAPHQL_SSE_PATH = '/graphql/stream';

export interface GraphqlSseOptions {
  readonly config: Pick<
    Config,
    'maxSubscriptionsPerConnection' | 'sseReservationTimeoutMs' | 'maxSseReservationsPerClient' | 'maxSseReservations'
  >;
  readonly logger: Logger;
  readonly principals?: PrincipalRegistry;
  /**
   * Trusted documents: every operation's document is resolved here, since graphql-sse builds no Yoga request whose
   * parameters the plugin's `onParams` could see (src/trusted-documents/plugin.ts); unset: its own `query` runs.
   */
  readonly documents?: DocumentResolver;
}

/** What each request handed to graphql-sse carries besides itself. */
interface RequestContext {
  /** yoga's server context (Node's `req` and `res`), for `getEnveloped`. */
  readonly serverContext: object;
  readonly token: string;
  /** Whether the request belongs to a reserved single-connection stream (else: distinct connections). */
  readonly single: boolean;
}

type HandlerRequest = SseRequest<Request, RequestContext>;

/**
 * Server-sent events in both modes of the GraphQL over SSE protocol, on graphql-sse's own handler:
 *
 * - "distinct connections": a GET or POST with `Accept: text/event-stream`, one response per operation (yoga
 *   also serves this mode natively on `/graphql`);
 * - "single connection": at {@link GRAPHQL_SSE_PATH}, for clients such as graphql-sse's
 *   `createClient({ singleConnection: true })` that reserve a stream with PUT, open it with GET and send
 *   operations to it with POST and its token.
 *
 * Every operation runs through yoga's envelop, so context, limits and error masking match the other
 * transports. Around graphql-sse, this plugin adds what it lacks: reservations that expire and are capped,
 * MAX_SUBSCRIPTIONS_PER_CONNECTION per stream (src/transport/sse-streams.ts), and a coded JSON error for
 * every refusal (graphql-sse answers many with an uncoded message or no body, and yoga's default would turn
 * anything thrown into a 500 with a stack trace).
 */
export function graphqlSsePlugin(options: GraphqlSseOptions): Plugin {
  const { config, logger, principals, documents } = options;
  let handler: ((request: HandlerRequest) => Promise<SseResponse>) | undefined;
  /** The `documentId` each request sent (graphql-sse's parser keeps only query, variables, operationName, extensions). */
  const documentIds = documents ? new WeakMap<HandlerRequest, unknown>() : undefined;
  /** The counted subscription each request started (only subscribes to a single-connection stream are counted). */
  const counted = new WeakMap<HandlerRequest, StreamOperation>();

  const registry: StreamRegistry = createStreamRegistry(
    {
      reservationTimeoutMs: config.sseReservationTimeoutMs,
      maxReservationsPerClient: config.maxSseReservationsPerClient,
      maxReservations: config.maxSseReservations,
      maxSubscriptionsPerStream: config.maxSubscriptionsPerConnection,
    },
    (token) => void disposeUnopened(token),
  );

  /**
   * graphql-sse drops a stream, and ends its operations, only when the stream's connection ends: an expired
   * reservation is opened and at once closed, which is that.
   */
  async function disposeUnopened(token: string): Promise<void> {
    const request: HandlerRequest = {
      method: 'GET',
      url: `http://localhost${GRAPHQL_SSE_PATH}`,
      headers: new Headers({ accept: 'text/event-stream' }),
      body: null,
      raw: new Request(`http://localhost${GRAPHQL_SSE_PATH}`),
      context: { serverContext: {}, token, single: true },
    };
    const [body] = (await handler?.(request)) ?? [null];
    if (body !== null && typeof body !== 'string') await body.return(undefined);
  }

  function onSubscribe(yoga: YogaServerInstance<Record<string, unknown>, object>) {
    return (req: HandlerRequest, given: RequestParams) => {
      // A refused document is refused by the parse phase below (src/trusted-documents/plugin.ts).
      const params: RequestParams = documents
        ? trustedParams(documents, { ...given, documentId: documentIds?.get(req) }, req.raw.headers)
        : given;
      const { token, single } = req.context;
      /** The refusal of a subscription past the stream's limit, thrown by its validation phase. */
      let refusal: GraphQLError | undefined;
      const enveloped = yoga.getEnveloped({
        ...req.context.serverContext,
        request: req.raw,
        params,
        // Claimed before the first await, so that operations pipelined on one stream see each other.
        ...(single
          ? subscriptionSlots(() => {
              // A stream gone since the request arrived: answered 404 below, nothing counted.
              if (!registry.has(token)) return undefined;
              const operationId = String(params.extensions?.['operationId'] ?? '');
              const operation: StreamOperation = { operationId, cancelled: false, running: undefined };
              if (registry.addSubscription(token, operation)) {
                counted.set(req, operation);
                return undefined;
              }
              refusal = connectionLimitRefusal(config.maxSubscriptionsPerConnection, 'stream');
              return refusal;
            })
          : {}),
      });
      // Throws yoga's request errors (unparsable GraphQL, a GET mutation, no such operation), answered in `serve`.
      const document = enveloped.parse(params.query);
      let errors: readonly GraphQLError[];
      try {
        errors = enveloped.validate(enveloped.schema, document);
      } catch (error) {
        // The subscription limit refuses this one operation, as on a graphql-ws socket; the stream goes on.
        if (refusal !== undefined && error === refusal) return once({ errors: [refusal] });
        throw error;
      }
      // The operation's one result, as /graphql and graphql-ws report validation errors (graphql-sse would take
      // a result without `data` for execution arguments and answer "Unable to detect operation AST").
      if (errors.length > 0) return once({ errors });
      const ast = getOperationAST(document, params.operationName);
      if (single && ast?.operation === 'subscription' && !counted.has(req)) return answer(404, streamNotFound());
      const operation = counted.get(req);
      return (async () => {
        const contextValue = await enveloped.contextFactory();
        if (operation?.cancelled) return NOT_STARTED;
        const args = {
          schema: enveloped.schema,
          document,
          contextValue,
          variableValues: params.variables,
          operationName: params.operationName,
        };
        const result = (await isolated(
          () => (ast?.operation === 'subscription' ? enveloped.subscribe(args) : enveloped.execute(args)),
          logger,
        )) as ExecutionResult | AsyncIterable<ExecutionResult>;
        if (operation && isAsyncIterable(result)) {
          operation.running = result[Symbol.asyncIterator]();
          // A DELETE of its id (or the stream's end) came while it was prepared. graphql-sse checks for that
          // itself, by the id, which a new operation may have taken since: then this one would run beside it,
          // unknown to DELETE and to the stream's end.
          if (operation.cancelled) {
            await operation.running.return?.(undefined);
            return NOT_STARTED;
          }
        }
        // A request error (variables that do not coerce, an operation refused by the cost limit) has no `data`.
        return isAsyncIterable(result) || 'data' in result ? result : once(result);
      })();
    };
  }

  /** Answers one request to {@link GRAPHQL_SSE_PATH}; never throws. */
  async function serve(request: Request, serverContext: object): Promise<SseResponse> {
    if (!ALLOWED_METHODS.includes(request.method)) {
      return answer(405, codedError(METHOD_REFUSAL, 'BAD_REQUEST'), {
        allow: ALLOWED_METHODS.join(', '),
      });
    }
    const given = givenToken(request);
    const owner = ownerOf(request, principals);
    if (given !== null && !given.startsWith(`${owner}.`)) {
      const error = codedError('This event stream was reserved with another credential.', 'FORBIDDEN', {
        requiredScope: null,
        workflowName: null,
      });
      return answer(403, error);
    }
    const token = given ?? `${owner}.${randomUUID()}`;
    const wantsStream = request.headers.get('accept') === 'text/event-stream';
    const method = request.method;

    if (method === 'PUT') {
      if (registry.has(token)) return answer(409, codedError('This event stream is already reserved.', 'BAD_REQUEST'));
      const refusal = registry.reserve(
        token,
        clientKeyOf(principals?.get(request), (serverContext as { req?: unknown }).req),
      );
      if (refusal) {
        const scope = refusal.scope === 'client' ? 'MAX_SSE_RESERVATIONS_PER_CLIENT' : 'MAX_SSE_RESERVATIONS';
        const error = codedError(
          `${refusal.limit} event streams are already reserved and not yet opened, the limit (${scope}); open one or retry after it expires.`,
          'STREAM_RESERVATION_LIMIT',
          { limit: refusal.limit, scope: refusal.scope },
        );
        return answer(429, error, { 'retry-after': String(refusal.retryAfterS) });
      }
      const response = await handle(handlerRequest(request, serverContext, token, true, documentIds));
      if (response[1].status !== 201) registry.drop(token);
      return response;
    }
    if (given === null) {
      if (wantsStream) return handle(handlerRequest(request, serverContext, token, false, documentIds));
      return answer(
        400,
        codedError(
          `${GRAPHQL_SSE_PATH} serves GraphQL over SSE: send Accept: text/event-stream, or reserve a stream with PUT and send operations with its token. Plain GraphQL requests go to /graphql.`,
          'BAD_REQUEST',
        ),
      );
    }
    if (!registry.has(token)) return answer(404, streamNotFound());
    const single = handlerRequest(request, serverContext, token, true, documentIds);
    if (wantsStream) {
      if (registry.isOpen(token)) return answer(409, codedError('This event stream is already open.', 'BAD_REQUEST'));
      registry.open(token);
      const response = await handle(single);
      const [body, init] = response;
      if (body === null || typeof body === 'string') {
        registry.drop(token);
        return response;
      }
      return [whenDone(body, () => registry.drop(token)), init];
    }
    if (method === 'DELETE') {
      // Every operation under the id, also one graphql-sse lost track of.
      const operationId = new URL(request.url).searchParams.get('operationId');
      if (operationId !== null) registry.cancel(token, operationId);
      return handle(single);
    }
    const response = await handle(single);
    const operation = counted.get(single);
    // The operation did not start (refused, or cancelled while it was prepared): its slot is free again.
    if (operation !== undefined && response[1].status !== 202) registry.removeSubscription(token, operation);
    return response;
  }

  /** Runs graphql-sse's handler, with its uncoded refusals coded and anything it throws masked. */
  async function handle(request: HandlerRequest): Promise<SseResponse> {
    try {
      if (!handler) throw new Error('The SSE handler is used before yoga initialised it.');
      return coded(await handler(request));
    } catch (error) {
      const operation = counted.get(request);
      if (operation !== undefined) registry.removeSubscription(request.context.token, operation);
      const status = requestErrorStatus(error);
      if (status !== undefined) {
        // yoga's own request errors (unparsable GraphQL, a GET mutation) carry their code and HTTP status.
        const { message, extensions } = error as GraphQLError;
        return answer(status, codedError(message, extensions.code ?? 'BAD_REQUEST'), httpOf(error)?.headers);
      }
      // Name and message only: a stack trace names files of this server.
      logger.error({ error: nameAndMessage(error, 'unknown') }, 'SSE request failed');
      return answer(500, unexpectedError());
    }
  }

  return {
    onYogaInit({ yoga }) {
      handler = createHandler<Request, RequestContext>({
        authenticate: (req) => req.context.token,
        onSubscribe: onSubscribe(yoga as never),
        // graphql-sse types the result with GraphQLError instances, but only serialises it: formatted errors do.
        onNext: (_ctx, _req, result) => resultWithoutHttp(result) as typeof result | undefined,
        onComplete: (_ctx, req) => {
          const operation = counted.get(req);
          if (operation !== undefined) registry.removeSubscription(req.context.token, operation);
        },
      });
    },
    onRequest({ request, url, serverContext, endResponse, fetchAPI }) {
      if (url.pathname !== GRAPHQL_SSE_PATH) return;
      return serve(request, serverContext as object).then((response) =>
        endResponse(toFetchResponse(response, request, fetchAPI.Response)),
      );
    },
    onDispose() {
      registry.close();
    },
  };
}

const ALLOWED_METHODS = ['GET', 'POST', 'PUT', 'DELETE'];

/** graphql-sse's own answer to an operation completed while it was prepared (a response ends its preparation). */
const NOT_STARTED: SseResponse = [null, { status: 204, statusText: 'No Content' }];

function streamNotFound(): GraphQLError {
  return codedError(
    'No event stream is reserved under this token: it expired unopened, was closed, or never existed. Reserve one with PUT.',
    'NOT_FOUND',
  );
}

/**
 * The request as graphql-sse's handler takes it; a POST body is parsed here, so a parse error has our message.
 * With `documentIds` (trusted documents are on), its `documentId` is kept there for `onSubscribe`, and a request
 * that names a document by hash alone gets an empty `query`, which graphql-sse requires and the resolver ignores.
 */
function handlerRequest(
  request: Request,
  serverContext: object,
  token: string,
  single: boolean,
  documentIds?: WeakMap<HandlerRequest, unknown>,
): HandlerRequest {
  let url = request.url;
  if (documentIds && request.method === 'GET') {
    const search = new URL(url).searchParams;
    if (!search.has('query')) url = `${url}${url.includes('?') ? '&' : '?'}query=`;
  }
  const handled: HandlerRequest = {
    method: request.method,
    url,
    headers: request.headers,
    body: async () => {
      const text = await request.text();
      let body: Record<PropertyKey, unknown>;
      try {
        body = JSON.parse(text) as Record<PropertyKey, unknown>;
      } catch {
        throw new Error('POST body sent invalid JSON.');
      }
      if (!documentIds || body === null || typeof body !== 'object') return body;
      documentIds.set(handled, body['documentId']);
      return body['query'] == null ? { ...body, query: '' } : body;
    },
    raw: request,
    context: { serverContext, token, single },
  };
  if (documentIds && request.method === 'GET') {
    documentIds.set(handled, new URL(request.url).searchParams.get('documentId') ?? undefined);
  }
  return handled;
}

/** One result as an operation's only event, followed by `complete`. */
function once(result: ExecutionResult): AsyncIterable<ExecutionResult> {
  return (async function* single() {
    yield result;
  })();
}

/** The token a request names (graphql-sse's header, or its query parameter), or null. */
function givenToken(request: Request): string | null {
  const given = request.headers.get(TOKEN_HEADER_KEY) ?? new URL(request.url).searchParams.get(TOKEN_QUERY_KEY);
  return given === '' ? null : given;
}

/**
 * The owner part of a single-connection stream's token (`<owner>.<random UUID>`): a hash of the principal's id.
 * graphql-sse's own tokens come from `Math.random` and belong to whoever presents them; here a token presented
 * by another principal is refused (403), so one tenant cannot read, feed or cancel another's stream even if it
 * learns the token.
 */
function ownerOf(request: Request, principals: PrincipalRegistry | undefined): string {
  return createHash('sha256')
    .update(principals?.get(request)?.id ?? 'anonymous')
    .digest('base64url')
    .slice(0, 16);
}

/** A JSON answer with one coded error. */
function answer(status: number, error: GraphQLError, headers: Record<string, string> = {}): SseResponse {
  return [
    JSON.stringify({ errors: [error] }),
    { status, statusText: '', headers: { ...headers, 'content-type': 'application/json; charset=utf-8' } },
  ];
}

/**
 * graphql-sse's refusals, with a code: its fixed messages are kept (they name no value of the request), a
 * refusal without a body gets one. Its JSON bodies carry no code, so every error in them is coded here.
 */
function coded(response: SseResponse): SseResponse {
  const [body, init] = response;
  if (init.status < 400 || (body !== null && typeof body !== 'string')) return response;
  const headers: Record<string, string> = { ...init.headers };
  if (body === null)
    return answer(init.status, codedError(EMPTY_REFUSALS[init.status] ?? 'Bad request.', codeOf(init.status)), headers);
  let messages: string[];
  try {
    const parsed = JSON.parse(body) as { errors?: { message?: unknown; extensions?: { code?: unknown } }[] };
    if (parsed.errors?.every((e) => typeof e.extensions?.code === 'string')) return response;
    messages = (parsed.errors ?? []).map((e) => (typeof e.message === 'string' ? e.message : ''));
  } catch {
    messages = [];
  }
  const errors = (messages.length > 0 ? messages : ['']).map((message) =>
    codedError(
      KNOWN_MESSAGES.has(message) ? message : 'The request is not one this endpoint can serve.',
      codeOf(init.status),
    ),
  );
  return [
    JSON.stringify({ errors }),
    { ...init, headers: { ...headers, 'content-type': 'application/json; charset=utf-8' } },
  ];
}

const codeOf = (status: number): ErrorCode =>
  status === 404 ? 'NOT_FOUND' : status === 415 ? 'UNSUPPORTED_CONTENT_TYPE' : 'BAD_REQUEST';

/** The 405 answer, whether this server or graphql-sse refuses the method. */
const METHOD_REFUSAL = `${GRAPHQL_SSE_PATH} accepts GET, POST, PUT and DELETE.`;

/** What graphql-sse refuses without a body means. */
const EMPTY_REFUSALS: Record<number, string> = {
  405: METHOD_REFUSAL,
  406: 'Not acceptable: a reservation (PUT) answers text/plain, an operation (POST) application/json.',
  415: 'Operations are sent as JSON: Content-Type: application/json.',
};

/** graphql-sse's own refusal messages (and ours for a body that is not JSON); none repeats a value it was sent. */
const KNOWN_MESSAGES = new Set([
  'Missing query',
  'Invalid query',
  'Invalid variables',
  'Invalid extensions',
  'Unparsable URL',
  'Missing body',
  'JSON body must be an object',
  'POST body sent invalid JSON.',
  'Operation ID is missing',
  'Operation with ID already exists',
  'Stream already registered',
  'Stream already open',
  'Stream not found',
  'Unable to detect operation AST',
  'Cannot perform mutations over GET',
]);

/** yoga's `extensions.http` of the errors it raises. */
interface HttpExtension {
  readonly status?: number;
  readonly headers?: Record<string, string>;
}

const httpOf = (error: unknown): HttpExtension | undefined =>
  error instanceof Error ? (error as { extensions?: { http?: HttpExtension } }).extensions?.http : undefined;

/** The 4xx status of an error yoga raised about the request, or undefined for any other failure. */
function requestErrorStatus(error: unknown): number | undefined {
  const status = httpOf(error)?.status;
  return status !== undefined && status >= 400 && status < 500 ? status : undefined;
}

/** Calls `done` once when the event stream ends, however it ends (its last message, an error, a return). */
function whenDone(
  body: AsyncGenerator<string, void, undefined>,
  done: () => void,
): AsyncGenerator<string, void, undefined> {
  let called = false;
  const finish = () => {
    if (called) return;
    called = true;
    done();
  };
  return {
    async next() {
      try {
        const result = await body.next();
        if (result.done) finish();
        return result;
      } catch (error) {
        finish();
        throw error;
      }
    },
    async return(value) {
      finish();
      return body.return(value);
    },
    async throw(error) {
      finish();
      return body.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  } as AsyncGenerator<string, void, undefined>;
}

/**
 * graphql-sse's answer as a Fetch `Response` (what graphql-sse/lib/use/fetch does): an event stream is pulled
 * as the client reads, and returned when the client goes away.
 */
function toFetchResponse([body, init]: SseResponse, request: Request, ResponseImpl: typeof Response): Response {
  if (body === null || typeof body === 'string') return new ResponseImpl(body, init);
  let cancelled = false;
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await body.next();
      if (value != null) controller.enqueue(encoder.encode(value));
      if (done) controller.close();
    },
    async cancel() {
      cancelled = true;
      await body.return(undefined);
    },
  });
  if (request.signal.aborted) void body.return(undefined);
  else
    request.signal.addEventListener('abort', () => {
      if (!cancelled) void body.return(undefined);
    });
  return new ResponseImpl(stream, init);
}

/**
 * Marks every event stream the server sends, graphql-sse's (above) and yoga's own on /graphql alike, with
 * `X-Accel-Buffering: no`: nginx buffers proxied responses by default (`proxy_buffering on`) and would hold
 * events back until a buffer fills or the stream ends; this header turns that off for the one response, with no
 * proxy configuration. Other proxies ignore it.
 */
export function useUnbufferedEventStreams(): Plugin {
  return {
    onResponse({ response }) {
      if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
        response.headers.set('x-accel-buffering', 'no');
      }
    },
  };
}
