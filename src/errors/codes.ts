/**
 * The vocabulary of `extensions.code`: every code a GraphQL error from this server can carry, with when it
 * is sent. Clients branch on these strings, so they are public API: add codes, never rename or reuse one.
 * The list is data, one line per code, so that documentation can be generated from it.
 *
 * The gateway builds its errors with `codedError` (src/errors/coded-error.ts), typed by {@link ErrorCode};
 * the last five codes are also set by graphql-yoga itself on the errors it raises (request parsing,
 * validation, masking), and are listed so that the vocabulary a client sees is complete.
 */
export const ERROR_CODES = {
  BAD_USER_INPUT:
    'An argument is malformed or out of range (a name, id, cursor, page size, date-time, JSON literal), or the Workflows API rejected the request as invalid; nothing was changed.',
  NOT_FOUND:
    'An object that was listed or referenced no longer exists when its data is read (a lookup by key answers `null` instead, and so does a subscription to a workflow or instance that does not exist), or no single-connection SSE stream is reserved under the token sent to /graphql/stream (HTTP 404: it expired unopened, was closed, or never existed).',
  RATE_LIMITED:
    "The Workflows API rate limit (or the gateway's own request budget for it) is exhausted; `retryAfter` says how many seconds to wait.",
  UPSTREAM_UNAVAILABLE: 'The Workflows API could not be reached, failed, or did not answer in time; try again later.',
  UPSTREAM_ERROR:
    "The Workflows API answered with an error no other code describes (the gateway's credentials refused, for example); `status` and `cloudflareErrors` say which.",
  UNAUTHENTICATED:
    'The request carries no valid credential (HTTP 401 with `WWW-Authenticate: Bearer`; graphql-ws closes with 4401), or the Workflows API refused the Cloudflare token a client sent in `cloudflare-token` mode.',
  FORBIDDEN:
    "The credential is valid but lacks the scope (`requiredScope`) or the workflow (`workflowName`) this field needs, or the Workflows API refused the client's Cloudflare token the permission; nothing was sent upstream for a scope or workflow refusal.",
  AUTHENTICATION_UNAVAILABLE:
    'The server could not check the credential right now (the JWT key set could not be fetched): HTTP 503, graphql-ws close code 1013; retry later.',
  QUERY_TOO_EXPENSIVE:
    'The operation could need more Workflows API requests than MAX_QUERY_COST allows and was refused before it ran; `cost` and `limit` give the numbers.',
  SUBSCRIPTION_LIMIT:
    'A new subscription would exceed MAX_SUBSCRIPTIONS_PER_CONNECTION or MAX_SUBSCRIPTIONS; `limit` and `scope` (`connection` or `server`) say which.',
  DOCUMENT_LIMIT:
    'The GraphQL document exceeds MAX_DOCUMENT_BYTES, MAX_TOKENS, MAX_ALIASES, MAX_DEPTH or MAX_DIRECTIVES (`limitName`, with `limit`); it was refused while being parsed or validated, and nothing ran.',
  STREAM_RESERVATION_LIMIT:
    'A `PUT /graphql/stream` would exceed MAX_SSE_RESERVATIONS_PER_CLIENT or MAX_SSE_RESERVATIONS, the reserved single-connection streams not yet opened (HTTP 429 with `Retry-After`); `limit` and `scope` (`client` or `server`) say which. Open a reserved stream, or wait for one to expire.',
  SHUTTING_DOWN:
    'The server is shutting down: a new subscription is refused, and open ones end with this error instead of completing; reconnect to another instance or retry shortly.',
  REQUEST_TOO_LARGE:
    'The request body is larger than MAX_REQUEST_BYTES (HTTP 413): refused by its Content-Length before it was read, or, sent chunked, as soon as it crossed the limit while being read; the rest was not read and the connection closed.',
  REQUEST_TIMEOUT:
    'The request, headers and body, did not arrive within REQUEST_TIMEOUT_MS (HTTP 408); the connection was closed and nothing ran.',
  UNSUPPORTED_CONTENT_TYPE:
    'A POST request had no Content-Type, or one other than JSON (form and plain-text bodies in particular: any web page can send those without a CORS preflight); send application/json (HTTP 415). Nothing ran.',
  HOST_NOT_ALLOWED:
    'The Host header is not one ALLOWED_HOSTS lists (a DNS-rebinding guard; HTTP 421, or the WebSocket upgrade refused). Nothing ran.',
  ORIGIN_NOT_ALLOWED:
    'The request or WebSocket upgrade carried an Origin header of a page CORS_ORIGINS does not allow (HTTP 403). Nothing ran.',
  PERSISTED_QUERY_NOT_FOUND:
    'The request named a trusted document (`extensions.persistedQuery.sha256Hash` or `documentId`) that the TRUSTED_DOCUMENTS manifest does not hold (HTTP 400). Nothing ran; a client built from another manifest is out of date, or the server needs the new one.',
  PERSISTED_QUERY_ONLY:
    'TRUSTED_DOCUMENTS_MODE=only: the request sent a document of its own instead of the hash of one in the manifest (HTTP 400). Nothing ran.',
  GRAPHQL_PARSE_FAILED: 'The query is not valid GraphQL syntax (set by graphql-yoga).',
  GRAPHQL_VALIDATION_FAILED: 'The operation does not validate against the schema (set by graphql-yoga).',
  BAD_REQUEST:
    'The HTTP request is not a GraphQL request the server can serve: a path other than /graphql (404), a method other than GET or POST, a mutation sent with GET, an Accept header it cannot satisfy (406), an unreadable body or parameters (JSON that does not parse, in the body or in GET parameters).',
  OPERATION_RESOLUTION_FAILURE:
    'The document does not say which operation to run: no operation named `operationName`, or several and no name (set by graphql-yoga).',
  INTERNAL_SERVER_ERROR: 'An unexpected failure, masked as "Unexpected error." without details (set by graphql-yoga).',
} as const;

/** An `extensions.code` this server sends. */
export type ErrorCode = keyof typeof ERROR_CODES;

declare module 'graphql' {
  /** The extensions this server puts on its GraphQL errors (yoga adds `http` and `unexpected`). */
  interface GraphQLErrorExtensions {
    code?: ErrorCode;
    /** RATE_LIMITED: whole seconds to wait before retrying (rounded up, at least 1). */
    retryAfter?: number;
    /** UPSTREAM_ERROR: HTTP status of the upstream answer; null when none arrived. */
    status?: number | null;
    /** UPSTREAM_ERROR, BAD_USER_INPUT from upstream: Cloudflare's own code and message pairs. */
    cloudflareErrors?: readonly { readonly code: number; readonly message: string }[];
    /** BAD_USER_INPUT: the argument that was refused, when one is to blame. */
    argument?: string;
    /** QUERY_TOO_EXPENSIVE: the estimated number of Workflows API requests. */
    cost?: number;
    /** QUERY_TOO_EXPENSIVE, SUBSCRIPTION_LIMIT, STREAM_RESERVATION_LIMIT, DOCUMENT_LIMIT: the limit that was exceeded. */
    limit?: number;
    /** DOCUMENT_LIMIT: the variable that sets the limit. */
    limitName?: 'MAX_DOCUMENT_BYTES' | 'MAX_TOKENS' | 'MAX_ALIASES' | 'MAX_DEPTH' | 'MAX_DIRECTIVES';
    /**
     * SUBSCRIPTION_LIMIT: whether the connection's or the server's limit was reached; STREAM_RESERVATION_LIMIT:
     * the client's or the server's.
     */
    scope?: 'server' | 'connection' | 'client';
    /** FORBIDDEN: the scope the credential lacks; null when the workflow is what is not allowed. */
    requiredScope?: string | null;
    /** FORBIDDEN: the workflow the field would touch. */
    workflowName?: string | null;
  }
}
