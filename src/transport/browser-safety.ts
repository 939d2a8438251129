import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import type { GraphQLError } from 'graphql';
import { isLoopbackHost, withoutBrackets, type Config } from '../config.js';
import { createOriginPolicy } from '../cors.js';
import { codedError } from '../errors/coded-error.js';

/**
 * What a browser page on another site could otherwise do to a server it can reach (a developer's local one
 * included), and the check that stops each:
 *
 * - DNS rebinding: a page on `evil.example` whose name is re-pointed at this server's address talks to it
 *   "same-origin", with `Host: evil.example`. Only the `Host` values of `ALLOWED_HOSTS` are answered.
 * - Cross-site requests (CSRF): browsers send form and plain-text POSTs to any site without asking first (no
 *   CORS preflight), and yoga and graphql-sse would run the operation in them. A POST needs a content type
 *   outside the three a page may send freely, which means a preflight that CORS refuses to foreign pages.
 * - Cross-site WebSocket hijacking, SSE and GET: browsers apply no CORS to WebSocket handshakes, and pages can
 *   read the events of an `EventSource`; every request that carries a foreign `Origin` header is refused.
 *   Same-origin pages (GraphiQL served here) and clients that send no `Origin` (non-browser ones) pass.
 */

/** What the checks read of a request: its method and headers as Node parsed them (lower-case names). */
export interface RequestHead {
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** Why a request was refused: the HTTP status and the GraphQL error of the response body. */
export interface Refusal {
  readonly status: 403 | 415 | 421;
  readonly error: GraphQLError;
}

export interface BrowserSafety {
  /**
   * HTTP requests: the `Host`, then the `Origin` (of every method but OPTIONS, the preflight CORS answers),
   * then a POST's `Content-Type`. Undefined when the request may proceed.
   */
  checkRequest(request: RequestHead): Refusal | undefined;
  /** WebSocket upgrades: the `Host`, then the `Origin`. */
  checkUpgrade(request: RequestHead): Refusal | undefined;
}

/**
 * The content types a page may POST to any site without a preflight (the CORS-safelisted ones of the Fetch
 * standard; `text/plain; charset=application/json` is still `text/plain`).
 */
const UNPREFLIGHTED_CONTENT_TYPES: ReadonlySet<string> = new Set([
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'text/plain',
]);

/**
 * The POST bodies yoga reads besides the refused ones: JSON, and a bare GraphQL document. Anything else would get
 * yoga's 415 without a body.
 */
const SERVED_CONTENT_TYPES: ReadonlySet<string> = new Set([
  'application/json',
  'application/graphql+json',
  'application/graphql',
]);

export interface BrowserSafetyOptions {
  /**
   * Also answer a `Host` that is an IP address or a loopback name, listed or not: what a client that addresses
   * the server directly sends (Prometheus scraping a pod's address), and what DNS rebinding never produces, since a
   * rebound page's requests carry the attacker's host name; `*` in ALLOWED_HOSTS is ignored then. For
   * METRICS_PORT, which serves no pages and answers without authentication. @default false
   */
  readonly addressHosts?: boolean;
}

/** The browser checks of `ALLOWED_HOSTS` and `CORS_ORIGINS`. */
export function createBrowserSafety(
  config: Pick<Config, 'allowedHosts' | 'corsOrigins'>,
  options: BrowserSafetyOptions = {},
): BrowserSafety {
  const hostNamed = createHostPolicy(config.allowedHosts);
  // `*` (common on the main port behind a proxy) never reaches a port that answers without authentication: there,
  // names must be listed, and addresses are answered anyway.
  const anyHost = config.allowedHosts.includes('*') && options.addressHosts !== true;
  const originAllowed = createOriginPolicy(config.corsOrigins);
  const hostAllowed = (host: string): boolean =>
    anyHost || hostNamed(host) || (options.addressHosts === true && isAddressHost(host));

  const checkHost = (host: string | undefined): Refusal | undefined =>
    host !== undefined && hostAllowed(host)
      ? undefined
      : {
          status: 421,
          error: codedError(
            `This server does not answer to the Host ${host === undefined ? '(none)' : `"${host}"`}; ALLOWED_HOSTS lists the ones it does.`,
            'HOST_NOT_ALLOWED',
          ),
        };

  const checkOrigin = ({ headers }: RequestHead): Refusal | undefined => {
    const { origin, host } = headers;
    if (origin === undefined || originAllowed(origin)) return undefined;
    // Same-origin only for a Host named in ALLOWED_HOSTS: under `*`, a rebound page is "same-origin" too.
    if (host !== undefined && hostNamed(host) && hostOf(origin) === host.toLowerCase()) return undefined;
    return {
      status: 403,
      error: codedError(
        `Pages from the origin "${origin}" may not use this server; CORS_ORIGINS lists the origins that may.`,
        'ORIGIN_NOT_ALLOWED',
      ),
    };
  };

  const checkContentType = ({ method, headers }: RequestHead): Refusal | undefined => {
    if (method !== 'POST') return undefined;
    const contentType = headers['content-type'];
    const essence = contentType?.split(';', 1)[0]?.trim().toLowerCase() ?? '';
    if (SERVED_CONTENT_TYPES.has(essence)) return undefined;
    const got = `got ${contentType === undefined ? 'none' : `"${contentType}"`}`;
    return {
      status: 415,
      error: codedError(
        UNPREFLIGHTED_CONTENT_TYPES.has(essence)
          ? `POST requests need Content-Type: application/json (${got}); form and plain-text bodies are refused because any web page can send them here.`
          : `POST requests need Content-Type: application/json (${got}).`,
        'UNSUPPORTED_CONTENT_TYPE',
      ),
    };
  };

  return {
    checkRequest: (request) =>
      checkHost(request.headers.host) ??
      (request.method === 'OPTIONS' ? undefined : checkOrigin(request)) ??
      checkContentType(request),
    checkUpgrade: (request) => checkHost(request.headers.host) ?? checkOrigin(request),
  };
}

/**
 * Whether `host` (a `Host` header: `name`, `name:port`, `[v6]:port`) is named in `allowed`, whose entries
 * are lower-case `name` (any port) or `name:port` (that port only), as src/config.ts reads ALLOWED_HOSTS.
 */
function createHostPolicy(allowed: readonly string[]): (host: string) => boolean {
  const withPort = new Set(allowed.filter(hasPort));
  const anyPort = new Set(allowed.filter((entry) => !hasPort(entry)));
  return (host) => {
    const lower = host.toLowerCase();
    return withPort.has(lower) || anyPort.has(lower.replace(/:\d*$/, ''));
  };
}

/** Whether `host` (a `Host` header) names an IP address or a loopback name, with or without a port. */
function isAddressHost(host: string): boolean {
  const name = host.toLowerCase().replace(/:\d*$/, '');
  const bare = withoutBrackets(name);
  return bare !== name ? isIP(bare) === 6 : isIP(name) === 4 || isLoopbackHost(name);
}

/** `[::1]` has colons but no port; `[::1]:4000` and `localhost:4000` have one. */
const hasPort = (entry: string): boolean => /:\d+$/.test(entry) && !entry.endsWith(']');

/** The `host[:port]` of an `Origin` header (`URL.host` leaves out the scheme's default port), or undefined. */
function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}
