import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
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
export function graphqlSsePlugin(): Plugin {
  const sse = useGraphQLSSE({ endpoint: GRAPHQL_SSE_PATH });
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
