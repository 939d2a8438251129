import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import type { DocumentResolver } from './resolve.js';

/**
 * Trusted documents over HTTP (GET and POST, and SSE on /graphql): Yoga's persisted-operations plugin, asked
 * everything by the resolver, so that it decides as {@link DocumentResolver.resolve} does for graphql-ws and
 * graphql-sse. It swaps the hash for the document's text in the request's parameters, before anything is parsed,
 * so the document limits, the cost limit and the refusal of mutations over GET apply to the trusted document.
 */
export function useTrustedDocuments(resolver: DocumentResolver): Plugin {
  return usePersistedOperations({
    allowArbitraryOperations: (request) => resolver.acceptsOwnDocuments(request.headers),
    extractPersistedOperationId: (params, request) =>
      resolver.hashOf({ ...params, documentId: documentIdOf(params, request) }),
    getPersistedOperation: (hash) => resolver.documentOf(hash) ?? null,
    customErrors: {
      notFound: () => resolver.notFound(),
      persistedQueryOnly: () => resolver.ownDocumentRefused(),
      keyNotFound: () => resolver.noDocument(),
    },
  });
}

/**
 * `documentId` of a POST body (yoga keeps every field of it), or of a GET request's URL (yoga's GET parser keeps
 * only query, variables, operationName and extensions): `GET /graphql?documentId=sha256:…&variables=…`.
 */
function documentIdOf(params: GraphQLParams, request: Request): unknown {
  const posted = (params as { documentId?: unknown }).documentId;
  if (posted !== undefined || request.method !== 'GET') return posted;
  return new URL(request.url).searchParams.get('documentId') ?? undefined;
}
