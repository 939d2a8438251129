/**
 * Configuration: the only module that reads the environment.
 *
 * `loadConfig(env)` validates every variable at once and throws a {@link ConfigError} that lists every
 * problem, so a misconfigured deployment fails at start-up with one readable message.
 * Other modules receive the frozen {@link Config} as an argument; tests build one with {@link createConfig}.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { isIP } from 'node:net';

/**
 * `local`: no `CLOUDFLARE_API_TOKEN`, so the gateway starts its embedded emulator (in production, or next to other
 * remote variables, only with `LOCAL_MODE=true`: see `refuseAccidentalLocalMode`). `remote`: a real upstream,
 * reached with the server's token, or, with `AUTH_MODE=cloudflare-token`, with each client's own credential
 * (then `upstream.apiToken` is empty: the server has no credential of its own).
 */
export type Mode = 'local' | 'remote';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
/** `json`: one JSON object per line; `pretty`: readable lines (pino-pretty). */
export type LogFormat = 'json' | 'pretty';

export interface UpstreamConfig {
  /** Base URL of the v4 API, without a trailing slash. @default https://api.cloudflare.com/client/v4 */
  readonly baseUrl: string;
  readonly accountId: string;
  readonly apiToken: string;
  /** @default 5000 */
  readonly connectTimeoutMs: number;
  /** Time to wait for response headers. @default 15000 */
  readonly headersTimeoutMs: number;
  /** Time allowed between body chunks. @default 15000 */
  readonly bodyTimeoutMs: number;
  /** Retries of an idempotent read after the first attempt. @default 2 */
  readonly maxRetries: number;
  /** Requests allowed per window and credential. @default 1200 */
  readonly rateLimit: number;
  /** Length of the rate window in seconds. @default 300 */
  readonly rateWindowS: number;
  /**
   * Most of a window's budget one client (API key, JWT subject, else client address) may use while other
   * clients want some too; a lone client may use all of it. Between 0 (exclusive) and 1. @default 0.5
   */
  readonly clientBudgetShare: number;
  /**
   * Most connections the client keeps open to the upstream origin; 0 means no limit (a request finding every
   * connection busy opens another). @default 0
   */
  readonly connections: number;
  /**
   * Requests in flight on one upstream connection (HTTP/1.1 pipelining; undici pipelines idempotent requests only).
   * 1 sends the next request once the previous answer has arrived. Without a {@link connections} limit, calls made
   * together still get connections of their own: undici's pool opens one rather than queue behind a request it has
   * not sent yet. @default 1
   */
  readonly pipelining: number;
}

/** What one emulator token may do (`EMULATOR_TOKENS`). */
export interface EmulatorTokenGrant {
  /** The account ids the token may address; a request for any other account is refused. */
  readonly accounts: readonly string[];
  /** Whether the token may write (POST, PUT, PATCH, DELETE); `false` makes it read-only. */
  readonly write: boolean;
}

/** Emulator tokens by token value. */
export type EmulatorTokens = Readonly<Record<string, EmulatorTokenGrant>>;

export interface EmulatorConfig {
  /** Port of `npm run emulator`; the embedded emulator always uses an ephemeral port. @default 8787 */
  readonly port: number;
  readonly host: string;
  /** When set, only this token is accepted (besides `tokens`), for any account and for writes. */
  readonly apiToken: string | undefined;
  /** When set, the tokens accepted, each confined to its accounts and possibly read-only. */
  readonly tokens: EmulatorTokens | undefined;
  /** How many emulated seconds pass per real second. @default 1 */
  readonly timeScale: number;
  /** Requests per window and token; undefined disables rate limiting. */
  readonly rateLimit: number | undefined;
  /** @default 300 */
  readonly rateWindowS: number;
  /** Latency added to every response, in ms (benchmarks). @default 0 */
  readonly latencyMs: number;
}

export interface Config {
  readonly mode: Mode;
  readonly host: string;
  /** @default 4000 */
  readonly port: number;
  /** @default info */
  readonly logLevel: LogLevel;
  /** `LOG_FORMAT`. @default pretty in local mode outside production, json otherwise */
  readonly logFormat: LogFormat;
  /** `NODE_ENV=production`. */
  readonly production: boolean;
  /**
   * Whether masked errors carry their original message and stack in `extensions` (yoga's dev mode).
   * Only under the test runner (`NODE_ENV=test`); everywhere else clients see "Unexpected error." alone.
   */
  readonly exposeErrorDetails: boolean;
  readonly upstream: UpstreamConfig;
  readonly emulator: EmulatorConfig;
  /** Base interval of subscription polling. @default 1000 */
  readonly pollIntervalMs: number;
  /** How long finished instances stay cached across requests. @default 5000 */
  readonly finishedInstanceTtlMs: number;
  /** Maximum number of instances one `createInstances` mutation may create. @default 1000 */
  readonly createInstancesLimit: number;
  /** Largest HTTP request body accepted, in bytes. @default 16 MiB */
  readonly maxRequestBytes: number;
  /**
   * `REQUEST_TIMEOUT_MS`: the time a client has to send a whole HTTP request, headers and body; a slower one gets
   * 408 and its connection closed (src/transport/listen.ts). A setting rather than a constant because it has to
   * grow with MAX_REQUEST_BYTES and the clients' bandwidth: the default passes the full 16 MiB at 2.3 Mbit/s.
   * @default 60000
   */
  readonly requestTimeoutMs: number;
  /** Limits of one GraphQL document, checked while it is parsed and validated (src/transport/document-limits.ts). */
  readonly documentLimits: DocumentLimits;
  /** Largest estimated number of upstream calls one operation may need; costlier ones are refused. @default 1000 */
  readonly maxQueryCost: number;
  /** @default 100 */
  readonly maxSubscriptionsPerConnection: number;
  /** @default 20000 */
  readonly maxSubscriptions: number;
  /** How long a graphql-sse single-connection stream reserved with PUT may wait to be opened, in ms. @default 30000 */
  readonly sseReservationTimeoutMs: number;
  /** Reserved, not yet opened single-connection streams one principal (or client address) may hold. @default 10 */
  readonly maxSseReservationsPerClient: number;
  /** Reserved, not yet opened single-connection streams the whole server may hold. @default 1000 */
  readonly maxSseReservations: number;
  /**
   * Browser origins allowed to call the API (CORS): exact origins such as `https://dash.example.com`, or `*`.
   * Empty means pages served from loopback (`http://localhost:<port>`, `http://127.0.0.1:<port>`) only.
   * @default []
   */
  readonly corsOrigins: readonly string[];
  /**
   * `Host` header values the server answers (DNS-rebinding protection; src/transport/browser-safety.ts): host
   * names or IP addresses (IPv6 in brackets), each optionally with `:port` (without one, any port), or `*`
   * for any Host. Default while `host` is a loopback address: `localhost`, `127.0.0.1`, `[::1]`; required otherwise.
   */
  readonly allowedHosts: readonly string[];
  readonly auth: AuthConfig;
  readonly tracing: TracingConfig;
  readonly metrics: MetricsConfig;
  readonly trustedDocuments: TrustedDocumentsConfig;
  /** `GRAPHIQL`: whether a browser opening /graphql gets GraphiQL (src/graphiql.ts). @default true */
  readonly graphiql: boolean;
  readonly redis: RedisConfig;
}

/** Several replicas sharing one Redis (src/redis/). */
export interface RedisConfig {
  /**
   * `REDIS_URL`: `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS. Unset: everything stays in
   * the process. Its password is a secret: it is scrubbed from logs and never quoted in a message.
   */
  readonly url: string | undefined;
  /** `REDIS_KEY_PREFIX`: starts every key and channel, so that several deployments can share one Redis. @default wfgql: */
  readonly keyPrefix: string;
  /**
   * `REDIS_FALLBACK_REPLICAS`: the fewest replicas a replica assumes while it serves from its local share of
   * `UPSTREAM_RATE_LIMIT` (Redis unreachable): it divides the limit by this or by the replicas it last saw alive,
   * whichever is more. Set it to the most replicas the deployment may run, so that replicas started or added
   * during an outage never take more than the limit together. @default 3
   */
  readonly fallbackReplicas: number;
}

/** What `REDIS_KEY_PREFIX` may hold: letters, digits and `:_.-`, nothing Redis or a shell would read as syntax. */
const REDIS_KEY_PREFIX_PATTERN = /^[A-Za-z0-9:_.-]{1,64}$/;

/**
 * OpenTelemetry traces. Only whether they are on is decided here: the SDK and its OTLP/HTTP exporter read their
 * own `OTEL_*` variables (src/tracing/sdk.ts lists them). This module checks those whose bad value the SDK would
 * only warn about while it falls back to a default.
 */
export interface TracingConfig {
  /**
   * `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, and neither
   * `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none` turns tracing off. @default false
   */
  readonly enabled: boolean;
  /**
   * The values of the headers `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_EXPORTER_OTLP_TRACES_HEADERS` send to the
   * collector (its credentials, typically), which the logger scrubs like the upstream token: the exporter's own
   * diagnostics reach the log (src/tracing/diagnostics.ts).
   */
  readonly exporterHeaderValues: readonly string[];
}

/** Prometheus metrics (src/metrics/). */
export interface MetricsConfig {
  /** `METRICS`: false turns metrics off entirely (no registry, no hooks, `/metrics` is a 404). @default true */
  readonly enabled: boolean;
  /**
   * `METRICS_PORT`: serve `/metrics` on this port (on `host`), without authentication, and not on the main port;
   * null serves it on the main port, authenticated like `/graphql`. 0 picks a free port (tests). @default null
   */
  readonly port: number | null;
  /**
   * `METRICS_HOST`: the interface METRICS_PORT listens on. Loopback by default, since that port has no
   * authentication: `0.0.0.0` (or any other interface) exposes the metrics to every network that reaches it.
   * @default 127.0.0.1
   */
  readonly host: string;
}

/** The values of `TRUSTED_DOCUMENTS_MODE`. */
export type TrustedDocumentsMode = 'off' | 'prefer' | 'only';
const TRUSTED_DOCUMENTS_MODES: readonly TrustedDocumentsMode[] = ['off', 'prefer', 'only'];

/** Trusted documents (persisted operations): src/trusted-documents/. */
export interface TrustedDocumentsConfig {
  /**
   * `TRUSTED_DOCUMENTS_MODE`. `prefer`: a request may name a document of the manifest by its hash, or send its own;
   * `only`: it must name one. @default off
   */
  readonly mode: TrustedDocumentsMode;
  /** `TRUSTED_DOCUMENTS`: the manifest's path, required unless the mode is `off`; read and checked at start. */
  readonly manifest: string | undefined;
  /** `ALLOW_GRAPHIQL_DOCUMENTS`: in `only` mode, GraphiQL may still send its own documents. Local mode only. */
  readonly allowGraphiQL: boolean;
}

/**
 * Limits of one GraphQL document (the `query` text, without its variables), each named after its variable. The
 * defaults are far above what a frontend of this schema sends: the full introspection query is 184 tokens and
 * 2 KiB, 5 levels deep (outside `__schema`), with no aliases.
 */
export interface DocumentLimits {
  /** `MAX_DOCUMENT_BYTES`: UTF-8 bytes of the document, checked before parsing. @default 65536 */
  readonly maxBytes: number;
  /**
   * `MAX_TOKENS`: lexical tokens (names, punctuation, values), counted while parsing. Also bounds how deeply
   * values and selections can nest. @default 2000
   */
  readonly maxTokens: number;
  /** `MAX_ALIASES`: aliased fields of an operation, `__typename` included. @default 300 */
  readonly maxAliases: number;
  /** `MAX_DEPTH`: nesting of selection sets (a fragment spread counts as a level). @default 20 */
  readonly maxDepth: number;
  /** `MAX_DIRECTIVES`: directives of an operation (`@include`, `@skip`, unknown ones). @default 50 */
  readonly maxDirectives: number;
}

/** The values of `AUTH_MODE`; the same list as `AuthMode` in src/auth/principal.ts (which config cannot import). */
export type AuthModeName = 'none' | 'api-key' | 'jwt' | 'cloudflare-token';
const AUTH_MODE_NAMES: readonly AuthModeName[] = ['none', 'api-key', 'jwt', 'cloudflare-token'];

/** Signature algorithms `JWT_ALGORITHMS` may list (never `none`). */
export const JWT_ALGORITHMS = [
  ...['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'],
  ...['HS256', 'HS384', 'HS512'],
] as const;
/** Shortest `JWT_SECRET`, in bytes: an HMAC key at least as long as SHA-256's output (RFC 7518, section 3.2). */
export const JWT_SECRET_MIN_BYTES = 32;

export interface AuthConfig {
  /** `AUTH_MODE`; unset means `none`, which only a loopback `HOST` allows. */
  readonly mode: AuthModeName;
  /** `AUTH_MODE=none` was set explicitly: main warns at start when `HOST` is not a loopback address. */
  readonly explicitNone: boolean;
  /** `API_KEYS_FILE` (mode `api-key`): read by src/auth/api-keys.ts at start and on reload. */
  readonly apiKeysFile: string | undefined;
  /** Mode `jwt` only. */
  readonly jwt: JwtConfig | undefined;
}

export interface JwtConfig {
  /** Exactly one of `JWT_JWKS_URL`, `JWT_PUBLIC_KEY_FILE` (SPKI or X.509 PEM) and `JWT_SECRET` (HMAC). */
  readonly key:
    | { readonly kind: 'jwks'; readonly url: string }
    | { readonly kind: 'public-key-file'; readonly path: string }
    | { readonly kind: 'secret'; readonly secret: string };
  readonly issuer: string;
  readonly audience: string;
  /** `JWT_ALGORITHMS`. @default ['HS256'] with `JWT_SECRET`, ['RS256', 'ES256'] otherwise */
  readonly algorithms: readonly string[];
  /** Claim holding the scopes, space-separated or an array. @default scope */
  readonly scopesClaim: string;
  /** Claim holding the workflow allowlist (names or globs); undefined, or the claim absent, means every workflow. */
  readonly workflowsClaim: string | undefined;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export const DEFAULT_BASE_URL = 'https://api.cloudflare.com/client/v4';
/** Account id used in local mode when none is configured. */
export const LOCAL_ACCOUNT_ID = '0123456789abcdef0123456789abcdef';
/** Token the gateway presents to its embedded emulator. Not a secret: the emulator only listens on loopback. */
export const LOCAL_API_TOKEN = 'local-emulator-token';

/** `ALLOWED_HOSTS` while listening on loopback and unset: the names a browser on this machine uses. */
export const LOOPBACK_HOST_NAMES: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/**
 * The configured secrets the logger scrubs from every line by value (src/logger.ts): the upstream token, the
 * JWT secret and the OTLP exporter's header values. One list, so that every logger the server builds (main's,
 * and an app's default) scrubs the same.
 */
export function loggedSecrets(config: Config): string[] {
  const jwt = config.auth.jwt?.key;
  return [
    config.upstream.apiToken,
    ...(jwt?.kind === 'secret' ? [jwt.secret] : []),
    ...config.tracing.exporterHeaderValues,
    ...redisUrlPasswords(config.redis.url),
  ];
}

/** The password of a `REDIS_URL`, as written and percent-decoded (ioredis sends the decoded one), if it has one. */
function redisUrlPasswords(url: string | undefined): string[] {
  if (url === undefined) return [];
  try {
    const { password } = new URL(url);
    if (password === '') return [];
    let decoded = password;
    try {
      decoded = decodeURIComponent(password);
    } catch {
      // Not valid percent-encoding: the password is what is written.
    }
    return decoded === password ? [password] : [password, decoded];
  } catch {
    return [];
  }
}

/** A `REDIS_URL` fit for a message: user and password replaced, so that neither is ever quoted. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@');
}

/** `host` without the brackets of an IPv6 address (`[::1]` is `::1`); anything else as it is. */
export function withoutBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Whether `HOST` is a loopback address (or name), reachable only from this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = withoutBrackets(host.toLowerCase());
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

type Env = Readonly<Record<string, string | undefined>>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  }

  /** The untrimmed value (secrets), or undefined when unset or blank. */
  raw(name: string): string | undefined {
    return this.string(name) === undefined ? undefined : this.env[name];
  }

  /** A path that must be readable now; the message names the path and the reason, never the content. */
  readableFile(name: string): string | undefined {
    const path = this.string(name);
    if (path === undefined) return undefined;
    try {
      accessSync(path, constants.R_OK);
      return path;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      this.problems.push(`${name} must be a readable file (got "${path}": ${code})`);
      return undefined;
    }
  }

  int(name: string, fallback: number, { min, max }: { min: number; max?: number }): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || (max !== undefined && value > max)) {
      this.problems.push(
        `${name} must be an integer ${max === undefined ? `>= ${min}` : `between ${min} and ${max}`} (got "${raw}")`,
      );
      return fallback;
    }
    return value;
  }

  number(name: string, fallback: number, { min }: { min: number }): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= min) {
      this.problems.push(`${name} must be a number greater than ${min} (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  /** A share: a number greater than 0 and at most 1. */
  share(name: string, fallback: number): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d*\.?\d+$/.test(raw) || !(value > 0 && value <= 1)) {
      this.problems.push(`${name} must be a number greater than 0 and at most 1 (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  url(name: string, fallback: string): string {
    const raw = this.string(name) ?? fallback;
    try {
      const url = new URL(raw);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
      return raw.replace(/\/+$/, '');
    } catch {
      this.problems.push(`${name} must be an http(s) URL (got "${raw}")`);
      return fallback;
    }
  }

  origins(name: string): string[] {
    const raw = this.string(name);
    if (raw === undefined) return [];
    const origins = raw
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== '');
    for (const origin of origins) {
      if (origin === '*') continue;
      let valid = false;
      try {
        valid = new URL(origin).origin === origin;
      } catch {
        valid = false;
      }
      if (!valid)
        this.problems.push(`${name} must list origins such as https://app.example.com, or * (got "${origin}")`);
    }
    return origins;
  }

  /** `ALLOWED_HOSTS`: comma-separated `name`, `name:port`, `[v6]`, `[v6]:port`, or `*`; lower-cased. */
  hosts(name: string, host: string): string[] {
    const raw = this.string(name);
    if (raw === undefined) {
      if (isLoopbackHost(host)) return [...LOOPBACK_HOST_NAMES];
      this.problems.push(
        `${name} is required when HOST (${host}) is not a loopback address: list the host names clients reach this server by (graphql.example.com, or with a port), or * to accept any Host header (no DNS-rebinding protection)`,
      );
      return [];
    }
    const hosts = raw
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== '');
    if (hosts.length === 0) this.problems.push(`${name} must list at least one host name, or * (got "${raw}")`);
    for (const entry of hosts) {
      if (entry !== '*' && !/^(\[[0-9a-f:.]+\]|[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?)(:\d{1,5})?$/.test(entry))
        this.problems.push(
          `${name} must list host names such as graphql.example.com or 10.0.0.5:4000 (IPv6 in brackets), or * (got "${entry}")`,
        );
    }
    return hosts;
  }

  /**
   * An interface to listen on: an IP address (IPv6 with or without brackets, returned without them, as `listen`
   * takes it) or a host name.
   */
  listenAddress(name: string, fallback: string): string {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const bare = withoutBrackets(raw);
    if (bare !== raw ? isIP(bare) === 6 : isIP(raw) !== 0) return bare;
    if (/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/i.test(raw)) return raw;
    this.problems.push(
      `${name} must be an IP address or a host name, such as 127.0.0.1, 0.0.0.0 or ::1 (got "${raw}")`,
    );
    return fallback;
  }

  /** `true` or `false` (any case); undefined when unset. */
  boolean(name: string): boolean | undefined {
    const raw = this.string(name)?.toLowerCase();
    if (raw === undefined) return undefined;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    this.problems.push(`${name} must be true or false (got "${raw}")`);
    return undefined;
  }

  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T {
    const raw = this.string(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if ((values as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${name} must be one of ${values.join(', ')} (got "${raw}")`);
    return fallback;
  }
}

/** Parses and validates the environment. Throws {@link ConfigError} listing every problem. */
export function loadConfig(env: Env = process.env): Config {
  const read = new Reader(env);
  const host = read.string('HOST') ?? '127.0.0.1';
  const auth = readAuth(read, host);
  // In cloudflare-token mode the server's own token is never used, even when set: clients bring theirs.
  const apiToken = auth.mode === 'cloudflare-token' ? undefined : read.string('CLOUDFLARE_API_TOKEN');
  const mode: Mode = apiToken === undefined && auth.mode !== 'cloudflare-token' ? 'local' : 'remote';
  const accountId = read.string('CLOUDFLARE_ACCOUNT_ID');
  refuseAccidentalLocalMode(read, { mode, authMode: auth.mode, accountId });
  if (apiToken !== undefined && accountId === undefined) {
    read.problems.push('CLOUDFLARE_ACCOUNT_ID is required when CLOUDFLARE_API_TOKEN is set');
  }
  if (accountId !== undefined && !/^[0-9a-f]{32}$/i.test(accountId)) {
    read.problems.push(`CLOUDFLARE_ACCOUNT_ID must be a 32-character hex account id (got "${accountId}")`);
  }
  if (apiToken !== undefined && /\s/.test(apiToken)) {
    // Never echo the token itself.
    read.problems.push('CLOUDFLARE_API_TOKEN must not contain whitespace');
  }
  const baseUrl = read.url('CLOUDFLARE_BASE_URL', DEFAULT_BASE_URL);
  const port = read.int('PORT', 4000, { min: 0, max: 65535 });
  const config: Config = {
    mode,
    host,
    port,
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    // `npm start` on a laptop reads best as text; anything deployed feeds a log pipeline, which wants JSON.
    logFormat: read.oneOf(
      'LOG_FORMAT',
      LOG_FORMATS,
      mode === 'local' && read.string('NODE_ENV') !== 'production' ? 'pretty' : 'json',
    ),
    production: read.string('NODE_ENV') === 'production',
    exposeErrorDetails: read.string('NODE_ENV') === 'test',
    upstream: {
      baseUrl,
      // cloudflare-token: the default account of clients that send none; empty when there is none.
      accountId: accountId ?? (mode === 'local' ? LOCAL_ACCOUNT_ID : ''),
      apiToken: apiToken ?? (mode === 'local' ? LOCAL_API_TOKEN : ''),
      connectTimeoutMs: read.int('UPSTREAM_CONNECT_TIMEOUT_MS', 5000, { min: 1 }),
      headersTimeoutMs: read.int('UPSTREAM_HEADERS_TIMEOUT_MS', 15_000, { min: 1 }),
      bodyTimeoutMs: read.int('UPSTREAM_BODY_TIMEOUT_MS', 15_000, { min: 1 }),
      maxRetries: read.int('UPSTREAM_MAX_RETRIES', 2, { min: 0, max: 10 }),
      rateLimit: read.int('UPSTREAM_RATE_LIMIT', 1200, { min: 1 }),
      rateWindowS: read.int('UPSTREAM_RATE_WINDOW_S', 300, { min: 1 }),
      clientBudgetShare: read.share('CLIENT_BUDGET_SHARE', 0.5),
      connections: read.int('UPSTREAM_CONNECTIONS', 0, { min: 0 }),
      pipelining: read.int('UPSTREAM_PIPELINING', 1, { min: 1, max: 100 }),
    },
    emulator: readEmulator(read, host),
    pollIntervalMs: read.int('POLL_INTERVAL_MS', 1000, { min: 50 }),
    finishedInstanceTtlMs: read.int('FINISHED_INSTANCE_TTL_MS', 5000, { min: 0 }),
    createInstancesLimit: read.int('CREATE_INSTANCES_LIMIT', 1000, { min: 1 }),
    maxRequestBytes: read.int('MAX_REQUEST_BYTES', 16 * 1024 * 1024, { min: 1024 }),
    requestTimeoutMs: read.int('REQUEST_TIMEOUT_MS', 60_000, { min: 1000, max: 3_600_000 }),
    documentLimits: {
      maxBytes: read.int('MAX_DOCUMENT_BYTES', 65_536, { min: 1024 }),
      maxTokens: read.int('MAX_TOKENS', 2000, { min: 100 }),
      maxAliases: read.int('MAX_ALIASES', 300, { min: 0 }),
      maxDepth: read.int('MAX_DEPTH', 20, { min: 5 }),
      maxDirectives: read.int('MAX_DIRECTIVES', 50, { min: 0 }),
    },
    maxQueryCost: read.int('MAX_QUERY_COST', 1000, { min: 1 }),
    maxSubscriptionsPerConnection: read.int('MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, { min: 1 }),
    maxSubscriptions: read.int('MAX_SUBSCRIPTIONS', 20_000, { min: 1 }),
    sseReservationTimeoutMs: read.int('SSE_RESERVATION_TIMEOUT_MS', 30_000, { min: 1000, max: 600_000 }),
    maxSseReservationsPerClient: read.int('MAX_SSE_RESERVATIONS_PER_CLIENT', 10, { min: 1 }),
    maxSseReservations: read.int('MAX_SSE_RESERVATIONS', 1000, { min: 1 }),
    corsOrigins: read.origins('CORS_ORIGINS'),
    allowedHosts: read.hosts('ALLOWED_HOSTS', host),
    auth,
    tracing: readTracing(read),
    metrics: readMetrics(read, port),
    trustedDocuments: readTrustedDocuments(read, mode),
    graphiql: read.oneOf('GRAPHIQL', ['true', 'false'], 'true') === 'true',
    redis: readRedis(read),
  };
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return deepFreeze(config);
}

/** `REDIS_URL`, `REDIS_KEY_PREFIX` and `REDIS_FALLBACK_REPLICAS`. A problem quotes the URL without its user and password. */
function readRedis(read: Reader): RedisConfig {
  const url = read.string('REDIS_URL');
  const keyPrefix = read.string('REDIS_KEY_PREFIX') ?? 'wfgql:';
  const fallbackReplicas = read.int('REDIS_FALLBACK_REPLICAS', 3, { min: 1, max: 10_000 });
  if (!REDIS_KEY_PREFIX_PATTERN.test(keyPrefix)) {
    read.problems.push(
      `REDIS_KEY_PREFIX must be 1 to 64 letters, digits or the characters : _ . - (got "${keyPrefix.slice(0, 80)}")`,
    );
  }
  if (url === undefined) {
    if (read.string('REDIS_KEY_PREFIX') !== undefined)
      read.problems.push('REDIS_KEY_PREFIX is set but REDIS_URL is not: the prefix only applies with REDIS_URL');
    if (read.string('REDIS_FALLBACK_REPLICAS') !== undefined)
      read.problems.push('REDIS_FALLBACK_REPLICAS is set but REDIS_URL is not: it only applies with REDIS_URL');
    return { url: undefined, keyPrefix, fallbackReplicas };
  }
  const problem = redisUrlProblem(url);
  if (problem !== undefined) {
    read.problems.push(`REDIS_URL ${problem} (got "${redactRedisUrl(url)}")`);
    return { url: undefined, keyPrefix, fallbackReplicas };
  }
  return { url, keyPrefix, fallbackReplicas };
}

function redisUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be a URL such as redis://127.0.0.1:6379/0 (or rediss:// for TLS)';
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    return 'must start with redis:// or rediss:// (TLS), such as redis://127.0.0.1:6379/0';
  if (url.hostname === '') return 'must name a host, such as redis://127.0.0.1:6379/0';
  if (url.search !== '' || url.hash !== '') return 'must not have a query or fragment (only redis://host:port/db)';
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,5}$/.test(db)) return 'may only name a database number after the host (/0 to /99999)';
  return undefined;
}

function readMetrics(read: Reader, mainPort: number): MetricsConfig {
  const enabled = read.oneOf('METRICS', ['true', 'false'], 'true') === 'true';
  const port = read.string('METRICS_PORT') === undefined ? null : read.int('METRICS_PORT', 0, { min: 0, max: 65535 });
  if (port !== null && !enabled) read.problems.push('METRICS_PORT is set but METRICS=false turns metrics off');
  if (port !== null && port !== 0 && port === mainPort) {
    read.problems.push(`METRICS_PORT must differ from PORT (both are ${port})`);
  }
  const host = read.listenAddress('METRICS_HOST', '127.0.0.1');
  // Without METRICS_PORT, /metrics is served on the main port (HOST): the setting would look effective while it is not.
  if (read.string('METRICS_HOST') !== undefined && port === null)
    read.problems.push('METRICS_HOST is set but METRICS_PORT is not: /metrics is then served on the main port (HOST)');
  return { enabled, port, host };
}

/**
 * Local mode serves the embedded emulator's demo data. It is chosen by leaving CLOUDFLARE_API_TOKEN unset, so a
 * deployment that forgot the token (or set only part of the remote variables) would serve demo data while looking
 * healthy. Local mode is therefore refused in production and next to remote variables, unless `LOCAL_MODE=true`
 * asks for it; `LOCAL_MODE=false` requires remote mode. With `AUTH_MODE=cloudflare-token` the server has no token
 * of its own (clients bring theirs) and is always remote, so none of this applies there but `LOCAL_MODE=true`.
 */
function refuseAccidentalLocalMode(
  read: Reader,
  { mode, authMode, accountId }: { mode: Mode; authMode: AuthModeName; accountId: string | undefined },
): void {
  const localMode = read.boolean('LOCAL_MODE');
  const baseUrl = read.string('CLOUDFLARE_BASE_URL');
  const help =
    'set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID to use the Cloudflare API, or LOCAL_MODE=true to serve ' +
    "the embedded emulator's demo data on purpose";
  if (authMode === 'cloudflare-token') {
    if (localMode === true) {
      read.problems.push(
        'LOCAL_MODE=true cannot be combined with AUTH_MODE=cloudflare-token: clients bring Cloudflare API tokens ' +
          'for the real API; unset one of them',
      );
    }
    return;
  }
  if (mode === 'remote') {
    if (localMode === true) {
      read.problems.push(
        'LOCAL_MODE=true conflicts with CLOUDFLARE_API_TOKEN: unset CLOUDFLARE_API_TOKEN to run the embedded ' +
          'emulator, or LOCAL_MODE to use the Cloudflare API',
      );
    }
    return;
  }
  if (localMode === true) {
    if (baseUrl !== undefined) {
      read.problems.push(
        'CLOUDFLARE_BASE_URL is set but LOCAL_MODE=true runs the embedded emulator, which ignores it: unset one of them',
      );
    }
    return;
  }
  if (localMode === false) {
    read.problems.push(
      `LOCAL_MODE=false requires CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (CLOUDFLARE_API_TOKEN is not set)`,
    );
    return;
  }
  const partial = [
    ...(accountId === undefined ? [] : ['CLOUDFLARE_ACCOUNT_ID']),
    ...(baseUrl === undefined ? [] : ['CLOUDFLARE_BASE_URL']),
  ];
  if (partial.length > 0) {
    read.problems.push(
      `CLOUDFLARE_API_TOKEN is not set, but ${partial.join(' and ')} ${partial.length > 1 ? 'are' : 'is'}: ${help}`,
    );
  } else if (read.string('NODE_ENV') === 'production') {
    read.problems.push(`NODE_ENV=production and CLOUDFLARE_API_TOKEN is not set: ${help}`);
  }
}

const MODES_HELP =
  'api-key (keys listed in API_KEYS_FILE), jwt (bearer JWTs: JWT_ISSUER, JWT_AUDIENCE and one of JWT_JWKS_URL, ' +
  'JWT_PUBLIC_KEY_FILE, JWT_SECRET), cloudflare-token (each client sends its own Cloudflare API token), ' +
  'or none (no authentication: only behind a proxy that authenticates every request)';

/** `AUTH_MODE` and its variables. Only names and paths appear in problems, never `JWT_SECRET`. */
function readAuth(read: Reader, host: string): AuthConfig {
  const explicit = read.string('AUTH_MODE') !== undefined;
  const mode = read.oneOf('AUTH_MODE', AUTH_MODE_NAMES, 'none');
  if (!explicit && !isLoopbackHost(host)) {
    read.problems.push(
      `AUTH_MODE is required when HOST (${host}) is not a loopback address, since anyone who reaches the port ` +
        `would act with the server's access. Set AUTH_MODE to ${MODES_HELP}`,
    );
  }
  const only = (names: readonly string[], inMode: AuthModeName) => {
    for (const name of names.filter((n) => read.string(n) !== undefined && mode !== inMode)) {
      // A key file or issuer set without its mode would look protected while it is not.
      read.problems.push(`${name} is set but AUTH_MODE is ${mode}; it only applies with AUTH_MODE=${inMode}`);
    }
  };
  only(['API_KEYS_FILE'], 'api-key');
  only(JWT_VARIABLES, 'jwt');
  const apiKeysFile = mode === 'api-key' ? read.readableFile('API_KEYS_FILE') : undefined;
  if (mode === 'api-key' && apiKeysFile === undefined && read.string('API_KEYS_FILE') === undefined) {
    read.problems.push('API_KEYS_FILE is required with AUTH_MODE=api-key (create entries with `npm run api-key`)');
  }
  return {
    mode,
    explicitNone: mode === 'none' && explicit,
    apiKeysFile,
    jwt: mode === 'jwt' ? readJwt(read) : undefined,
  };
}

/** `TRUSTED_DOCUMENTS_MODE` and its variables; the manifest itself is read by src/trusted-documents/manifest.ts. */
function readTrustedDocuments(read: Reader, mode: Mode): TrustedDocumentsConfig {
  const documentsMode = read.oneOf('TRUSTED_DOCUMENTS_MODE', TRUSTED_DOCUMENTS_MODES, 'off');
  const given = read.string('TRUSTED_DOCUMENTS') !== undefined;
  const manifest = read.readableFile('TRUSTED_DOCUMENTS');
  if (documentsMode !== 'off' && !given) {
    read.problems.push(
      `TRUSTED_DOCUMENTS_MODE=${documentsMode} needs TRUSTED_DOCUMENTS, the path of the manifest (persisted-documents.json) your client's codegen writes`,
    );
  }
  if (documentsMode === 'off' && given) {
    // A manifest without a mode would look enforced while every document is still accepted.
    read.problems.push('TRUSTED_DOCUMENTS is set but TRUSTED_DOCUMENTS_MODE is off; set it to prefer or only');
  }
  const allowGraphiQL = read.oneOf('ALLOW_GRAPHIQL_DOCUMENTS', ['true', 'false'], 'false') === 'true';
  if (allowGraphiQL && mode !== 'local') {
    // Any client can present itself as GraphiQL (src/trusted-documents/resolve.ts): only the emulator's data is at stake.
    read.problems.push(
      'ALLOW_GRAPHIQL_DOCUMENTS=true is only allowed in local mode (without CLOUDFLARE_API_TOKEN): any client can claim to be GraphiQL',
    );
  }
  return { mode: documentsMode, manifest, allowGraphiQL };
}

const JWT_VARIABLES = [
  'JWT_JWKS_URL',
  'JWT_PUBLIC_KEY_FILE',
  'JWT_SECRET',
  'JWT_ISSUER',
  'JWT_AUDIENCE',
  'JWT_ALGORITHMS',
  'JWT_SCOPES_CLAIM',
  'JWT_WORKFLOWS_CLAIM',
];

function readJwt(read: Reader): JwtConfig | undefined {
  const sources = ['JWT_JWKS_URL', 'JWT_PUBLIC_KEY_FILE', 'JWT_SECRET'].filter((n) => read.string(n) !== undefined);
  const issuer = read.string('JWT_ISSUER');
  const audience = read.string('JWT_AUDIENCE');
  for (const [name, value] of [['JWT_ISSUER', issuer] as const, ['JWT_AUDIENCE', audience] as const]) {
    if (value === undefined) read.problems.push(`${name} is required with AUTH_MODE=jwt`);
  }
  if (sources.length !== 1) {
    read.problems.push(
      `AUTH_MODE=jwt needs exactly one key source: JWT_JWKS_URL, JWT_PUBLIC_KEY_FILE or JWT_SECRET (got ${
        sources.length === 0 ? 'none' : sources.join(' and ')
      })`,
    );
  }
  const key = readJwtKey(read, sources[0]);
  const algorithms = readJwtAlgorithms(read, key?.kind === 'secret');
  if (key === undefined || issuer === undefined || audience === undefined || sources.length !== 1) return undefined;
  return {
    key,
    issuer,
    audience,
    algorithms,
    scopesClaim: read.string('JWT_SCOPES_CLAIM') ?? 'scope',
    workflowsClaim: read.string('JWT_WORKFLOWS_CLAIM'),
  };
}

function readJwtKey(read: Reader, source: string | undefined): JwtConfig['key'] | undefined {
  if (source === 'JWT_JWKS_URL') {
    const url = read.url('JWT_JWKS_URL', '');
    // Keys fetched in clear text could be replaced on the way; plain http only reaches this machine.
    if (url !== '' && new URL(url).protocol === 'http:' && !isLoopbackHost(new URL(url).hostname)) {
      read.problems.push(`JWT_JWKS_URL must use https (plain http only on loopback) (got "${url}")`);
    }
    return url === '' ? undefined : { kind: 'jwks', url };
  }
  if (source === 'JWT_PUBLIC_KEY_FILE') {
    const path = read.readableFile('JWT_PUBLIC_KEY_FILE');
    return path === undefined ? undefined : { kind: 'public-key-file', path };
  }
  if (source === 'JWT_SECRET') {
    // Not trimmed: every byte of a secret counts. Never echoed.
    const secret = read.raw('JWT_SECRET') ?? '';
    if (Buffer.byteLength(secret) < JWT_SECRET_MIN_BYTES) {
      read.problems.push(`JWT_SECRET must be at least ${JWT_SECRET_MIN_BYTES} bytes long`);
      return undefined;
    }
    return { kind: 'secret', secret };
  }
  return undefined;
}

/** A secret only verifies HMAC tokens and a public key only signatures: never both (algorithm confusion). */
function readJwtAlgorithms(read: Reader, secret: boolean): string[] {
  const fallback = secret ? ['HS256'] : ['RS256', 'ES256'];
  const raw = read.string('JWT_ALGORITHMS');
  if (raw === undefined) return fallback;
  const algorithms = raw
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const unknown = algorithms.filter((a) => !(JWT_ALGORITHMS as readonly string[]).includes(a));
  if (algorithms.length === 0 || unknown.length > 0) {
    read.problems.push(`JWT_ALGORITHMS must list some of ${JWT_ALGORITHMS.join(', ')} (got "${raw}")`);
    return fallback;
  }
  const mismatched = algorithms.filter((a) => a.startsWith('HS') !== secret);
  if (mismatched.length > 0) {
    read.problems.push(
      secret
        ? `JWT_ALGORITHMS must list only HS256, HS384 or HS512 with JWT_SECRET (got "${raw}")`
        : `JWT_ALGORITHMS must not list HS256, HS384 or HS512 without JWT_SECRET (got "${raw}")`,
    );
    return fallback;
  }
  return algorithms;
}

/** Parses the variables of the standalone emulator (`npm run emulator`). */
export function loadEmulatorConfig(env: Env = process.env): EmulatorConfig {
  const read = new Reader(env);
  const config = readEmulator(read, read.string('HOST') ?? '127.0.0.1');
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return Object.freeze(config);
}

/** The samplers `OTEL_TRACES_SAMPLER` may name: those the trace SDK builds from it. */
const OTEL_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

function readTracing(read: Reader): TracingConfig {
  const endpoints = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'].filter(
    (name) => read.string(name) !== undefined,
  );
  // The exporter would warn and send to http://localhost:4318 instead of a mistyped endpoint.
  for (const name of endpoints) read.url(name, '');
  const exporter = read.oneOf('OTEL_TRACES_EXPORTER', ['otlp', 'none'] as const, 'otlp');
  const enabled =
    endpoints.length > 0 && read.string('OTEL_SDK_DISABLED')?.toLowerCase() !== 'true' && exporter === 'otlp';
  if (!enabled) return { enabled, exporterHeaderValues: [] };
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    if (read.string(name)?.toLowerCase() === 'grpc')
      read.problems.push(
        `${name}=grpc is not supported: traces are sent with OTLP over HTTP (JSON); point the endpoint at the collector's OTLP/HTTP port (usually 4318)`,
      );
  }
  // The SDK would log the mistake and sample everything.
  const sampler = read.oneOf('OTEL_TRACES_SAMPLER', OTEL_SAMPLERS, 'parentbased_always_on');
  const ratio = read.string('OTEL_TRACES_SAMPLER_ARG');
  if (sampler.endsWith('traceidratio') && ratio !== undefined && !(Number(ratio) >= 0 && Number(ratio) <= 1))
    read.problems.push(`OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1 (got "${ratio}")`);
  return { enabled, exporterHeaderValues: otlpHeaderValues(read) };
}

/**
 * The values of the OTLP exporter's headers, as it reads them (`key=value` pairs separated by commas, values
 * percent-encoded): both as written and decoded, so that either form is scrubbed from the log.
 */
function otlpHeaderValues(read: Reader): string[] {
  const values: string[] = [];
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
    for (const pair of (read.raw(name) ?? '').split(',')) {
      const value = pair.slice(pair.indexOf('=') + 1).trim();
      if (!pair.includes('=') || value === '') continue;
      values.push(value);
      try {
        values.push(decodeURIComponent(value));
      } catch {
        // Not percent-encoded as the exporter expects: it is kept as written.
      }
    }
  }
  return values;
}

function readEmulator(read: Reader, host: string): EmulatorConfig {
  const rateLimitRaw = read.string('EMULATOR_RATE_LIMIT');
  return {
    port: read.int('EMULATOR_PORT', 8787, { min: 0, max: 65535 }),
    host,
    apiToken: read.string('EMULATOR_API_TOKEN'),
    tokens: readEmulatorTokens(read),
    timeScale: read.number('EMULATOR_TIME_SCALE', 1, { min: 0 }),
    rateLimit: rateLimitRaw === undefined ? undefined : read.int('EMULATOR_RATE_LIMIT', 1200, { min: 1 }),
    rateWindowS: read.int('EMULATOR_RATE_WINDOW_S', 300, { min: 1 }),
    latencyMs: read.int('EMULATOR_LATENCY_MS', 0, { min: 0, max: 60_000 }),
  };
}

/**
 * `EMULATOR_TOKENS`: a JSON object, or the path of a file holding one. Problems name entries by position and
 * never quote the value, a field name or the file's path: any of them could be a token.
 */
function readEmulatorTokens(read: Reader): EmulatorTokens | undefined {
  const name = 'EMULATOR_TOKENS';
  const raw = read.string(name);
  if (raw === undefined) return undefined;
  const inline = raw.startsWith('{') || raw.startsWith('[');
  let text = raw;
  if (!inline) {
    try {
      text = readFileSync(raw, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'an unknown error';
      read.problems.push(
        `${name} must be a JSON object or the path of a readable JSON file (reading it failed: ${code})`,
      );
      return undefined;
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    read.problems.push(`${name} is not valid JSON${inline ? '' : ' (the file it names)'}`);
    return undefined;
  }
  const shape = '{ "<token>": { "accounts": ["<account id>", ...], "write": true | false }, ... }';
  const isObject = (value: unknown): value is Record<string, unknown> =>
    value !== null && typeof value === 'object' && !Array.isArray(value);
  if (!isObject(parsed) || Object.keys(parsed).length === 0) {
    read.problems.push(`${name} must be an object with at least one token: ${shape}`);
    return undefined;
  }
  const before = read.problems.length;
  const entries = Object.entries(parsed).map(([token, grant], index): [string, EmulatorTokenGrant] => {
    const entry = `${name} entry #${index + 1}`;
    if (token === '' || /\s/.test(token))
      read.problems.push(`${entry}: the token must be non-empty, without whitespace`);
    if (!isObject(grant)) {
      read.problems.push(`${entry} must be { "accounts": [...], "write": true | false }`);
      return [token, { accounts: [], write: false }];
    }
    const { accounts, write, ...rest } = grant;
    if (Object.keys(rest).length > 0) read.problems.push(`${entry} may only have the fields accounts and write`);
    const validAccounts =
      Array.isArray(accounts) &&
      accounts.length > 0 &&
      accounts.every((id) => typeof id === 'string' && id.trim() !== '');
    if (!validAccounts) read.problems.push(`${entry}: accounts must be a non-empty array of account ids`);
    if (typeof write !== 'boolean') read.problems.push(`${entry}: write must be true or false`);
    return [token, { accounts: validAccounts ? [...(accounts as string[])] : [], write: write === true }];
  });
  // fromEntries defines own properties, so a token such as "__proto__" stays a key.
  return read.problems.length === before ? Object.fromEntries(entries) : undefined;
}

/**
 * Builds a Config for tests and embedding: the defaults of local mode (with `NODE_ENV` taken from the
 * process, so tests keep error details), overridden by `overrides`.
 */
export function createConfig(overrides: DeepPartial<Config> = {}): Config {
  const base = loadConfig({ NODE_ENV: process.env.NODE_ENV, LOCAL_MODE: 'true' });
  return deepFreeze(merge(base, overrides));
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, overrides: DeepPartial<T>): T {
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [key, value] of Object.entries(overrides as Record<string, unknown>)) {
    const current = out[key];
    const mergeable = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
    out[key] = mergeable(value) && mergeable(current) ? merge(current, value as DeepPartial<typeof current>) : value;
  }
  return out as T;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
