import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import type { Authenticator } from '../../src/auth/principal.js';
import type { Logger } from '../../src/logger.js';
import type { Tracing } from '../../src/tracing/tracing.js';
import { createConfig, type Config, type DeepPartial } from '../../src/config.js';
import type { RequestFilter } from '../../src/emulator/request-log.js';
import { createEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/server.js';

export interface StackOptions {
  /**
   * Options of the emulator. Merged over `{ clock: 'manual' }`: with a manual clock nothing moves between
   * two requests, so upstream call counts are deterministic. Pass `clock: 'real'` for live tests.
   */
  emulator?: EmulatorOptions;
  /** Overrides of the gateway config; `upstream.baseUrl` always points at the emulator. Logs are silent unless set. */
  config?: DeepPartial<Config>;
  /** Also listen on an ephemeral loopback port (WebSocket and SSE tests need a socket). */
  listen?: boolean;
  /**
   * Put a recording loopback proxy between gateway and emulator, so tests can see full request URLs
   * (query strings such as `simple=true`) in {@link Stack.sentUrls}; the emulator's log keeps route templates only.
   */
  recordUrls?: boolean;
  /**
   * Also puts the loopback proxy in between, and asks this function about every upstream request before it is
   * forwarded: `'drop'` reads the request and then resets the connection without an answer, so the gateway
   * cannot tell whether the upstream got it (the emulator never sees it); `{ holdAnswerUntil }` forwards the
   * request at once and keeps the emulator's answer from the gateway until the promise settles.
   */
  interceptUpstream?: (request: {
    readonly method: string;
    readonly path: string;
    readonly headers: IncomingHttpHeaders;
  }) => 'forward' | 'drop' | { readonly holdAnswerUntil: Promise<void> };
  /** Authenticates clients (see src/auth/); unset: no authentication. */
  authenticator?: Authenticator;
  /** Receives the gateway's log lines (audit lines included); unset: a silent logger. */
  logger?: Logger;
  /** Traces operations (src/tracing/); the app shuts it down when it stops. */
  tracing?: Tracing;
  /** Yoga plugins after the app's own (`AppOptions.plugins`): a fault a test puts into the server. */
  plugins?: readonly Plugin[];
}

/** The GraphQL response as a client sees it. */
export interface GraphQLResult<T> {
  data?: T | null;
  errors?: GraphQLFormattedError[];
}

type HeaderMap = Record<string, string>;
type NullableKeys<V> = { [K in keyof V]-?: null extends V[K] ? K : never }[keyof V];
/**
 * Variables of a generated operation with its nullable variables optional: codegen.ts (`avoidOptionals.object`)
 * makes them required keys, but GraphQL treats an omitted nullable variable as null.
 */
export type Variables<V> = Omit<V, NullableKeys<V>> & Partial<Pick<V, NullableKeys<V>>>;
/** The variables argument of a typed operation: optional only when the operation has no required variable. */
type VariablesArgs<V> =
  Record<never, never> extends Variables<V>
    ? [variables?: Variables<V>, headers?: HeaderMap]
    : [variables: Variables<V>, headers?: HeaderMap];

export interface Stack {
  readonly emulator: Emulator;
  readonly app: App;
  readonly config: Config;
  /** `http://127.0.0.1:PORT/graphql` when started with `listen: true`. */
  readonly url?: string;
  /**
   * POSTs one operation to `/graphql` through `app.yoga.fetch` and returns the parsed body. Tests pass the
   * typed documents of `test/generated/operations.ts`, so the variables are type-checked and `data` is typed.
   */
  graphql<TResult, TVariables>(
    document: TypedDocumentNode<TResult, TVariables>,
    ...args: VariablesArgs<TVariables>
  ): Promise<GraphQLResult<TResult>>;
  /**
   * The same for a document given as text: only for documents a test sends on purpose as they are (invalid
   * ones, literals under test, the GraphiQL default query). `T` is what the caller expects `data` to hold.
   */
  graphql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: HeaderMap,
  ): Promise<GraphQLResult<T>>;
  /**
   * Calls the emulator's REST API directly (setting up data without going through the gateway) with the
   * gateway's account and token; `path` is relative to `/accounts/{account_id}/workflows`. Returns `result`.
   */
  rest<R = unknown>(method: string, path: string, body?: unknown): Promise<R>;
  /** With `recordUrls`: `METHOD /path?query` (after `/client/v4`) of every upstream request since the last reset. */
  readonly sentUrls: string[];
  /** Upstream requests the emulator has answered since the last {@link Stack.resetCalls}. */
  upstreamCalls(filter?: RequestFilter): number;
  resetCalls(): void;
  /** Stops the gateway, then the emulator. Safe to call twice. */
  stop(): Promise<void>;
}

const running = new Set<Stack>();

// Registered when a test file imports this helper, so a stack whose test forgot `stop()` cannot leak a port.
afterAll(async () => {
  await Promise.all([...running].map((stack) => stack.stop()));
});

/** Starts an emulator and a gateway whose real upstream client talks to it over loopback. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const emulator = await createEmulator({ clock: 'manual', ...options.emulator });
  const sentUrls: string[] = [];
  const proxy =
    options.recordUrls || options.interceptUpstream
      ? await startRecordingProxy(emulator.url, sentUrls, options.interceptUpstream)
      : undefined;
  const overrides = options.config ?? {};
  const config = createConfig({
    logLevel: 'silent',
    ...overrides,
    upstream: { ...overrides.upstream, baseUrl: proxy?.url ?? emulator.url },
  });
  let app: App;
  let url: string | undefined;
  try {
    app = createApp(config, {
      ...(options.authenticator ? { authenticator: options.authenticator } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.tracing ? { tracing: options.tracing } : {}),
      ...(options.plugins ? { plugins: options.plugins } : {}),
    });
    if (options.listen) url = await app.start(0, '127.0.0.1');
  } catch (error) {
    await proxy?.stop();
    await emulator.stop();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  const stack: Stack = {
    emulator,
    app,
    config,
    sentUrls,
    ...(url === undefined ? {} : { url }),
    async graphql(query: string | TypedDocumentNode, variables?: unknown, headers?: HeaderMap) {
      const response = await app.yoga.fetch('http://127.0.0.1/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
        body: JSON.stringify({ query: typeof query === 'string' ? query : print(query), variables }),
      });
      const text = await response.text();
      try {
        return JSON.parse(text) as GraphQLResult<never>;
      } catch {
        throw new Error(`/graphql answered ${response.status} with a body that is not JSON: ${text.slice(0, 500)}`);
      }
    },
    async rest(method, path, body) {
      const response = await fetch(`${emulator.url}/accounts/${config.upstream.accountId}/workflows${path}`, {
        method,
        headers: { authorization: `Bearer ${config.upstream.apiToken}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const envelope = (await response.json()) as { success: boolean; result: never; errors: unknown };
      if (!envelope.success)
        throw new Error(`${method} ${path} failed (${response.status}): ${JSON.stringify(envelope.errors)}`);
      return envelope.result;
    },
    upstreamCalls(filter) {
      return emulator.requests.count(filter);
    },
    resetCalls() {
      emulator.requests.reset();
      sentUrls.length = 0;
    },
    stop() {
      stopping ??= (async () => {
        running.delete(stack);
        try {
          await app.stop();
        } finally {
          await proxy?.stop();
          await emulator.stop();
        }
      })();
      return stopping;
    },
  };
  running.add(stack);
  return stack;
}

/**
 * A pass-through HTTP proxy on loopback that records `METHOD /path?query` relative to the emulator's base,
 * and drops the requests `intercept` says to drop.
 */
async function startRecordingProxy(
  target: string,
  sent: string[],
  intercept: StackOptions['interceptUpstream'],
): Promise<{ url: string; stop(): Promise<void> }> {
  const base = new URL(target);
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    const method = req.method ?? 'GET';
    const relative = path.startsWith(base.pathname) ? path.slice(base.pathname.length) : path;
    sent.push(`${method} ${relative}`);
    const decision = intercept?.({ method, path: relative, headers: req.headers }) ?? 'forward';
    if (decision === 'drop') {
      // The whole request arrives first, as it would at an upstream that then fails to answer.
      req.resume();
      req.on('end', () => req.socket.destroy());
      return;
    }
    const upstream = httpRequest(
      { host: base.hostname, port: base.port, method: req.method, path, headers: req.headers },
      (answer) => {
        if (decision === 'forward') {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        // Read in full now (what upstream said at this moment), handed over once the test lets it go.
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          void decision.holdAnswerUntil.finally(() => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(chunks));
          });
        });
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${base.pathname}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
