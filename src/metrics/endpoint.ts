import { createServer, type Server, type ServerResponse } from 'node:http';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Scope } from '../auth/principal.js';
import type { PrincipalRegistry } from '../context.js';
import { codedError, unexpectedError } from '../errors/coded-error.js';
import type { BrowserSafety } from '../transport/browser-safety.js';
import { answerClientErrors, httpServerOptions, listen } from '../transport/listen.js';
import type { Metrics } from './metrics.js';

/** Where the exposition is served, on the main port or on METRICS_PORT. */
export const METRICS_PATH = '/metrics';

/** The scope a principal needs to read the metrics on the main port. */
const METRICS_SCOPE: Scope = 'workflows:read';

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
  });
}

/**
 * Serves `/metrics` on the main port through yoga, after `useAuthentication` (src/transport/authentication.ts),
 * which authenticates it like `/graphql` and answers 401 without credentials. The metrics describe every
 * client's traffic and every credential's budget, so reading them takes `workflows:read` and no workflow
 * allowlist: a principal limited to some workflows must not see the traffic of the others.
 */
export function useMetricsEndpoint(options: {
  metrics: Metrics;
  /** Where `useAuthentication` leaves each request's principal; unset: no authentication (AUTH_MODE=none). */
  principals?: PrincipalRegistry | undefined;
}): Plugin {
  const { metrics, principals } = options;
  return {
    onRequest({ request, url, endResponse }) {
      if (url.pathname !== METRICS_PATH) return;
      if (principals) {
        const principal = principals.get(request);
        // A cloudflare-token principal is anyone holding a well-formed token of any account: its scopes are not
        // the server's to grant (src/auth/cloudflare-token.ts), and the metrics cover every tenant. There the
        // metrics are served on METRICS_PORT only.
        if (
          !principal?.scopes.has(METRICS_SCOPE) ||
          principal.workflows !== null ||
          principal.mode === 'cloudflare-token'
        ) {
          const error = codedError(
            `Reading the metrics takes the \`${METRICS_SCOPE}\` scope on every workflow (no workflow allowlist); ` +
              'with AUTH_MODE=cloudflare-token they are served on METRICS_PORT only.',
            'FORBIDDEN',
            { requiredScope: METRICS_SCOPE, workflowName: null },
          );
          endResponse(json(403, { errors: [error] }));
          return;
        }
      }
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(
          json(405, { errors: [codedError(`${METRICS_PATH} accepts GET.`, 'BAD_REQUEST')] }, { allow: 'GET' }),
        );
        return;
      }
      return metrics.expose().then((text) =>
        endResponse(
          new Response(text, {
            headers: { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' },
          }),
        ),
      );
    },
  };
}

/** The separate server of METRICS_PORT: `GET /metrics` and nothing else, without authentication. */
export interface MetricsServer {
  /** `http://host:port/metrics`. */
  readonly url: string;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  /** METRICS_PORT; 0 picks a free one. */
  readonly port: number;
  /** METRICS_HOST. */
  readonly host: string;
  /**
   * The Host and Origin checks (src/transport/browser-safety.ts): without authentication, they are what keeps a
   * page in a browser that can reach the port (DNS rebinding, a page on the LAN) from reading the metrics.
   */
  readonly browserSafety: BrowserSafety;
  /** REQUEST_TIMEOUT_MS. */
  readonly requestTimeoutMs: number;
}

function answerJson(res: ServerResponse, status: number, error: GraphQLError, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify({ errors: [error] }));
}

/**
 * Listens on METRICS_HOST (loopback unless configured otherwise) and answers `GET /metrics` to requests that pass
 * the browser checks; anything else is a coded error.
 */
export async function startMetricsServer(metrics: Metrics, options: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer(httpServerOptions(options.requestTimeoutMs), (req, res) => {
    const refusal = options.browserSafety.checkRequest(req);
    if (refusal) {
      answerJson(res, refusal.status, refusal.error);
      return;
    }
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== METRICS_PATH || (req.method !== 'GET' && req.method !== 'HEAD')) {
      const error = codedError(`This port serves GET ${METRICS_PATH} only.`, 'BAD_REQUEST');
      answerJson(res, path === METRICS_PATH ? 405 : 404, error, path === METRICS_PATH ? { allow: 'GET' } : {});
      return;
    }
    metrics.expose().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      () => answerJson(res, 500, unexpectedError()),
    );
  });
  answerClientErrors(server, options.requestTimeoutMs);
  const origin = await listen(server, options.port, options.host, 'METRICS_PORT');
  return {
    url: `${origin}${METRICS_PATH}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
