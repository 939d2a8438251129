import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { createHash, randomUUID } from 'node:crypto';
import type { PrincipalRegistry } from '../context.js';
import { codedError } from '../errors/coded-error.js';

/** Where the graphql-sse "single connection" mode is served (reservations via PUT, the stream via GET). */
export const GRAPHQL_SSE_PATH = '/graphql/stream';

/**
 * Server-sent events in both modes of the GraphQL over SSE protocol:
 *
 * - "distinct connections": yoga serves it natively on `/graphql` (a GET or POST with
 *   `Accept: text/event-stream`; one HTTP response per subscription);
 * - "single connection": this plugin, at {@link GRAPHQL_SSE_PATH}, for clients such as graphql-sse's
 *   `createClient({ singleConnection: true })` that multiplex many operations over one stream.
 *
 * Both run through yoga's envelop, so context, limits and error masking match the other transports.
 */
export function graphqlSsePlugin(options: { principals?: PrincipalRegistry } = {}): Plugin {
  const sse = useGraphQLSSE({
    endpoint: GRAPHQL_SSE_PATH,
    authenticate: (req) => streamToken(req.raw, options.principals),
  });
  return {
    ...sse,
    onRequest(payload) {
      const handled = sse.onRequest?.(payload);
      if (!(handled instanceof Promise)) return handled;
      // The plugin parses through yoga's envelop, which throws yoga's request errors (a mutation sent with GET,
      // unparsable GraphQL) instead of returning them; unanswered they would be a 500. They get the status
      // and the error /graphql answers them with.
      return handled.catch((error: unknown) => {
        const status = requestErrorStatus(error);
        if (status === undefined) throw error;
        const { message, extensions } = error as GraphQLError;
        const body = JSON.stringify({ errors: [codedError(message, extensions.code ?? 'BAD_REQUEST')] });
        const headers = { ...httpOf(error)?.headers, 'content-type': 'application/json' };
        payload.endResponse(new payload.fetchAPI.Response(body, { status, headers }));
      });
    },
  };
}

/** Where graphql-sse clients send their stream's token (graphql-sse's `TOKEN_HEADER_KEY` and `TOKEN_QUERY_KEY`). */
const TOKEN_HEADER = 'x-graphql-event-stream-token';
const TOKEN_QUERY = 'token';

/**
 * The token of a single-connection stream, bound to the credential that reserved it: `<owner>.<random UUID>`,
 * where the owner is a hash of the principal's id. graphql-sse's own tokens come from `Math.random` and belong to
 * whoever presents them; here a token presented by another principal is refused (403), so one tenant cannot read,
 * feed or cancel another's stream even if it learns the token.
 */
function streamToken(
  request: Request,
  principals: PrincipalRegistry | undefined,
): string | readonly [body: string, init: { status: number; statusText: string; headers: Record<string, string> }] {
  const owner = createHash('sha256')
    .update(principals?.get(request)?.id ?? 'anonymous')
    .digest('base64url')
    .slice(0, 16);
  const given = request.headers.get(TOKEN_HEADER) ?? new URL(request.url).searchParams.get(TOKEN_QUERY);
  if (given === null || given === '') return `${owner}.${randomUUID()}`;
  if (given.startsWith(`${owner}.`)) return given;
  const error = codedError('This event stream was reserved with another credential.', 'FORBIDDEN', {
    requiredScope: null,
    workflowName: null,
  });
  return [
    JSON.stringify({ errors: [error] }),
    { status: 403, statusText: 'Forbidden', headers: { 'content-type': 'application/json' } },
  ];
}

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
