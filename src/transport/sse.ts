import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import type { Plugin } from 'graphql-yoga';

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
  return useGraphQLSSE({ endpoint: GRAPHQL_SSE_PATH });
}
