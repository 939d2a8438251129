import { GraphQLError } from 'graphql';
import type { GraphQLParams, Plugin } from 'graphql-yoga';
import type { DocumentResolver, RequestedDocument } from './resolve.js';

/** The fields of an operation's parameters besides its document, in each transport's own types. */
interface OperationFields {
  readonly operationName?: unknown;
  readonly variables?: unknown;
  readonly extensions?: unknown;
}

/** The parameters an operation runs with: the request's, with `query` the text of the document to run. */
export type TrustedParams<P extends OperationFields> = Pick<P, 'operationName' | 'variables' | 'extensions'> & {
  query: string;
};

/** The refusal of each operation whose parameters {@link trustedParams} made for a refused request. */
const refusals = new WeakMap<object, GraphQLError>();

/**
 * The parameters an operation runs with under trusted documents, on every transport: the request's operation name,
 * variables and extensions, and as `query` the document {@link DocumentResolver.resolve} chose. A refused request
 * gets an empty `query`, whose parse phase throws the refusal ({@link useTrustedDocuments}'s `onParse`): a refused
 * request is then an operation refused while parsed, which the plugins observing the parse phase count and log
 * (src/operations/lifecycle.ts) whichever transport carried it.
 */
export function trustedParams<P extends RequestedDocument & OperationFields>(
  resolver: DocumentResolver,
  requested: P,
  headers: Headers,
): TrustedParams<P> {
  let query = '';
  let refusal: GraphQLError | undefined;
  try {
    query = resolver.resolve(requested, headers);
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    refusal = error;
  }
  const { operationName, variables, extensions } = requested;
  const params = { operationName, variables, extensions, query } as TrustedParams<P>;
  if (refusal) refusals.set(params, refusal);
  return params;
}

/**
 * Trusted documents over HTTP (GET and POST, and SSE on /graphql) through {@link trustedParams}: the hash is swapped
 * for the document's text in the request's parameters, before anything is parsed, so the document limits, the cost
 * limit and the refusal of mutations over GET apply to the trusted document. On every transport, the parse phase
 * of a refused request throws its refusal; this runs before yoga's parser cache (user plugins come first), so the
 * empty `query` of refused requests is never cached.
 */
export function useTrustedDocuments(resolver: DocumentResolver): Plugin {
  return {
    onParams({ params, request, setParams }) {
      setParams(trustedParams(resolver, { ...params, documentId: documentIdOf(params, request) }, request.headers));
    },
    onParse({ context }) {
      const params = (context as { params?: unknown }).params;
      const refusal = typeof params === 'object' && params !== null ? refusals.get(params) : undefined;
      if (refusal) throw refusal;
    },
  };
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
