import type { TrustedDocumentsConfig } from '../config.js';
import { codedError } from '../errors/coded-error.js';
import { loadTrustedDocuments, type TrustedDocuments } from './manifest.js';

/**
 * The header (over HTTP) and `connection_init` entry (over graphql-ws) by which this server's GraphiQL page says
 * it is GraphiQL, when `ALLOW_GRAPHIQL_DOCUMENTS=true`. Any client can send it: it only tells GraphiQL apart from
 * a frontend under test, which never sends it, and is therefore allowed in local mode only (src/config.ts).
 */
export const GRAPHIQL_MARKER = 'x-graphiql';

/** What a request says about its document: the fields of a GraphQL request that can carry one. */
export interface RequestedDocument {
  readonly query?: unknown;
  /** A trusted document's hash in the GraphQL over HTTP draft's shape (`sha256:<hex>`, or the bare hex). */
  readonly documentId?: unknown;
  /** `persistedQuery: { version: 1, sha256Hash }`: the shape of Apollo's persisted queries and Yoga's plugin. */
  readonly extensions?: unknown;
}

/**
 * The one home of "which document does this request run" under `TRUSTED_DOCUMENTS_MODE`, for every transport:
 * HTTP GET and POST (and SSE on /graphql) through the plugin's `onParams`, graphql-ws (src/transport/websocket.ts)
 * and graphql-sse (src/transport/sse.ts) before they parse; all of them through `trustedParams` (./plugin.ts).
 */
export interface DocumentResolver {
  /**
   * The text of the document to run: the request's own `query` when one is sent and allowed, else the trusted
   * document its hash names. A `query` of `''` counts as none: graphql-ws and graphql-sse require the field.
   * @throws a coded GraphQLError: `PERSISTED_QUERY_ONLY`, `PERSISTED_QUERY_NOT_FOUND`, or `BAD_REQUEST` when the
   * request names no document at all.
   */
  resolve(requested: RequestedDocument, headers: Headers): string;
}

/** Answered like yoga's own request errors: 400, or 200 for clients that accept only `application/json`. */
const REQUEST_ERROR_HTTP = { status: 400, spec: true };

export function createDocumentResolver(
  config: Pick<TrustedDocumentsConfig, 'mode' | 'allowGraphiQL'>,
  documents: TrustedDocuments,
): DocumentResolver {
  const acceptsOwnDocuments = (headers: Headers): boolean =>
    config.mode === 'prefer' || (config.allowGraphiQL && headers.get(GRAPHIQL_MARKER) === 'true');
  return {
    resolve(requested, headers) {
      if (typeof requested.query === 'string' && requested.query !== '') {
        if (!acceptsOwnDocuments(headers)) {
          throw codedError(
            'This server runs trusted documents only: send the hash of a document in its manifest (extensions.persistedQuery.sha256Hash or documentId), not a query.',
            'PERSISTED_QUERY_ONLY',
            { http: REQUEST_ERROR_HTTP },
          );
        }
        return requested.query;
      }
      const hash = hashOf(requested);
      if (hash === null) {
        throw codedError(
          `Send a query${config.mode === 'only' ? ' hash' : ' or the hash of a trusted document'}: extensions.persistedQuery.sha256Hash or documentId.`,
          'BAD_REQUEST',
          { http: REQUEST_ERROR_HTTP },
        );
      }
      const document = documents.get(hash);
      if (document === undefined) {
        throw codedError(
          'No trusted document has this hash: the server and this client were built from different manifests.',
          'PERSISTED_QUERY_NOT_FOUND',
          { http: REQUEST_ERROR_HTTP },
        );
      }
      return document;
    },
  };
}

/** The hash a request names: its `documentId`, else `extensions.persistedQuery.sha256Hash` (version 1). */
function hashOf({ documentId, extensions }: RequestedDocument): string | null {
  if (typeof documentId === 'string' && documentId !== '') return documentId;
  if (extensions === null || typeof extensions !== 'object') return null;
  const persisted = (extensions as { persistedQuery?: unknown }).persistedQuery;
  if (persisted === null || typeof persisted !== 'object') return null;
  const { version, sha256Hash } = persisted as { version?: unknown; sha256Hash?: unknown };
  return version === 1 && typeof sha256Hash === 'string' && sha256Hash !== '' ? sha256Hash : null;
}

/**
 * The resolver `config` asks for, or undefined when `TRUSTED_DOCUMENTS_MODE` is off: reads and checks the manifest.
 * @throws {@link ConfigError} when the manifest is unreadable or invalid (src/trusted-documents/manifest.ts).
 */
export function loadDocumentResolver(config: TrustedDocumentsConfig): DocumentResolver | undefined {
  if (config.mode === 'off' || config.manifest === undefined) return undefined;
  return createDocumentResolver(config, loadTrustedDocuments(config.manifest));
}

/**
 * What GraphiQL's page is rendered with so that its requests carry {@link GRAPHIQL_MARKER}: `additionalHeaders`
 * over HTTP, and the graphql-ws connection's `connectionParams` (its page passes every option on to its executor,
 * and a browser cannot set headers on a WebSocket upgrade). Nothing unless `ALLOW_GRAPHIQL_DOCUMENTS=true`.
 */
export function graphiqlMarkerOptions(config: Pick<TrustedDocumentsConfig, 'allowGraphiQL'>): Record<string, unknown> {
  if (!config.allowGraphiQL) return {};
  const marker = { [GRAPHIQL_MARKER]: 'true' };
  return { additionalHeaders: marker, connectionParams: marker };
}
