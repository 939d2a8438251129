import { createClient, type Client } from 'graphql-ws';
import type { TypedDocumentString } from './gql/graphql';

/**
 * How the dashboard talks to the server: queries and mutations over HTTP POST, subscriptions over graphql-ws, both
 * with the same credential (`Authorization` header; over graphql-ws in the `connection_init` payload, since
 * browsers cannot set headers on a WebSocket).
 */
export interface Connection {
  readonly endpoint: string;
  execute<R, V>(document: TypedDocumentString<R, V>, variables: V): Promise<R>;
  /** Calls `onData` for every event until the returned function is called; `onError` once when it fails. */
  subscribe<R, V>(
    document: TypedDocumentString<R, V>,
    variables: V,
    onData: (data: R) => void,
    onError: (error: RequestError) => void,
  ): () => void;
  /** Calls `listener` once the live connection is closed: at once when none is open. Returns a cancel function. */
  afterClose(listener: () => void): () => void;
  /**
   * Calls `listener` whenever the live connection is established again after the first time (after a server
   * restart, say): the events sent meanwhile were missed, so what they would have changed must be asked again.
   */
  onReconnected(listener: () => void): () => void;
  close(): void;
}

/** The `extensions.code` of a subscription the server ended because it is stopping (the server's src/errors/codes.ts). */
export const SHUTTING_DOWN = 'SHUTTING_DOWN';

/** Waits between attempts to reach the server: doubling from 1 s, at most 5 s, with jitter so clients spread out. */
const RETRY_WAIT = (retries: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** retries, 5000) + Math.random() * 1000));

/** A GraphQL error of a query or subscription (or a failed request), with the server's `extensions.code`. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }

  /** The message, and the code when the server sent one: what the dashboard shows. */
  get readable(): string {
    return this.code === undefined ? this.message : `${this.message} (${this.code})`;
  }
}

interface GraphQLResponse<R> {
  data?: R | null;
  errors?: readonly { message: string; extensions?: { code?: string } }[];
}

/**
 * A production build sends only the hash of each document, which a server running with the manifest this build
 * wrote (TRUSTED_DOCUMENTS_MODE=prefer or only) resolves; `npm run dev` sends the text, for a server without one.
 */
const BY_HASH = import.meta.env.PROD;

/** The request body's document part: the text, or the hash the manifest knows it by (Apollo's and Yoga's shape). */
function documentOf<R, V>(
  document: TypedDocumentString<R, V>,
): { query: string; extensions?: Record<string, unknown> } {
  const hash = (document.__meta__ as { hash?: string } | undefined)?.hash;
  if (!BY_HASH || hash === undefined) return { query: document.toString() };
  // graphql-ws requires a `query` string; the server counts an empty one as none.
  return { query: '', extensions: { persistedQuery: { version: 1, sha256Hash: hash } } };
}

function firstError(errors: GraphQLResponse<unknown>['errors']): RequestError | undefined {
  const error = errors?.[0];
  return error === undefined ? undefined : new RequestError(error.message, error.extensions?.code);
}

export function connect(endpoint: string, credential: string): Connection {
  const headers: Record<string, string> = credential === '' ? {} : { authorization: `Bearer ${credential}` };
  let ws: Client | undefined;
  let open = false;
  let connectedBefore = false;
  const closeListeners = new Set<() => void>();
  const reconnectListeners = new Set<() => void>();
  const socket = (): Client =>
    (ws ??= createClient({
      url: endpoint.replace(/^http/, 'ws'),
      connectionParams: headers,
      // A connection lost while subscriptions are active is retried (30 times, about two and a half minutes), and
      // they are sent again; a refused credential (4401) is not retried. A stopping server first ends each
      // subscription with a SHUTTING_DOWN error, which graphql-ws does not retry: src/hooks.ts subscribes again.
      retryAttempts: 30,
      retryWait: RETRY_WAIT,
      // Also when the socket fails before it opens (the server is down for a moment, so the connection is refused),
      // which graphql-ws by default does not retry; fatal close codes such as 4401 are never retried.
      shouldRetry: () => true,
      on: {
        // Every connection after the first, whether graphql-ws counts it as a retry or not: after a server
        // restart, the ended subscriptions let the socket go idle, and the next one is a fresh connect.
        connected: () => {
          open = true;
          if (connectedBefore) for (const listener of [...reconnectListeners]) listener();
          connectedBefore = true;
        },
        closed: () => {
          open = false;
          for (const listener of [...closeListeners]) listener();
          closeListeners.clear();
        },
      },
    }));

  return {
    endpoint,
    async execute(document, variables) {
      let response: Response;
      try {
        response = await fetch(endpoint, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
          body: JSON.stringify({ ...documentOf(document), variables }),
        });
      } catch {
        // The browser tells a page nothing more: the server is down, or it refused this page's origin (CORS).
        throw new RequestError(`Cannot reach ${endpoint}, or it does not accept requests from this page`, undefined);
      }
      const body = (await response.json().catch(() => ({}))) as GraphQLResponse<never>;
      const error = firstError(body.errors);
      if (error) throw error;
      if (body.data === undefined || body.data === null)
        throw new RequestError(`The server answered HTTP ${response.status} without data`, undefined);
      return body.data;
    },
    subscribe(document, variables, onData, onError) {
      return socket().subscribe(
        { ...documentOf(document), variables: variables as Record<string, unknown> },
        {
          next: (result) => {
            const error = firstError(result.errors as GraphQLResponse<unknown>['errors']);
            if (error) onError(error);
            else if (result.data) onData(result.data as never);
          },
          error: (error) => onError(socketError(error)),
          complete: () => {},
        },
      );
    },
    afterClose(listener) {
      if (!open) {
        listener();
        return () => {};
      }
      closeListeners.add(listener);
      return () => closeListeners.delete(listener);
    },
    onReconnected(listener) {
      reconnectListeners.add(listener);
      return () => reconnectListeners.delete(listener);
    },
    close() {
      closeListeners.clear();
      reconnectListeners.clear();
      void ws?.dispose();
    },
  };
}

/** What graphql-ws hands to `error`: GraphQL errors, a close event (4401 for a bad credential), or anything else. */
function socketError(error: unknown): RequestError {
  if (Array.isArray(error)) return firstError(error) ?? new RequestError('Subscription failed', undefined);
  if (error instanceof CloseEvent)
    return new RequestError(
      `Live updates stopped: the server closed the connection (${error.code}${error.reason ? ` ${error.reason}` : ''})`,
      undefined,
    );
  return new RequestError('Live updates stopped: the connection to the server failed', undefined);
}
