import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import { afterAll } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createConfig, type Config, type DeepPartial } from '../../src/config.js';
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
}

/** The GraphQL response as a client sees it. */
export interface GraphQLResult<T> {
  data?: T | null;
  errors?: GraphQLFormattedError[];
}

export interface Stack {
  readonly emulator: Emulator;
  readonly app: App;
  readonly config: Config;
  /** `http://127.0.0.1:PORT/graphql` when started with `listen: true`. */
  readonly url?: string;
  /** POSTs one operation to `/graphql` through `app.yoga.fetch` and returns the parsed body. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped string queries are read freely in tests
  graphql<T = any, V extends Record<string, unknown> = Record<string, unknown>>(
    query: string | TypedDocumentNode<T, V>,
    variables?: V,
    headers?: Record<string, string>,
  ): Promise<GraphQLResult<T>>;
  /** Upstream requests the emulator has answered since the last {@link Stack.resetCalls}. */
  upstreamCalls(filter?: { method?: string; routeIncludes?: string }): number;
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
  const overrides = options.config ?? {};
  const config = createConfig({
    logLevel: 'silent',
    ...overrides,
    upstream: { ...overrides.upstream, baseUrl: emulator.url },
  });
  let app: App;
  let url: string | undefined;
  try {
    app = createApp(config);
    if (options.listen) url = await app.start(0, '127.0.0.1');
  } catch (error) {
    await emulator.stop();
    throw error;
  }

  let stopping: Promise<void> | undefined;
  const stack: Stack = {
    emulator,
    app,
    config,
    ...(url === undefined ? {} : { url }),
    async graphql(query, variables, headers) {
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
    upstreamCalls(filter) {
      return emulator.requests.count(filter);
    },
    resetCalls() {
      emulator.requests.reset();
    },
    stop() {
      stopping ??= (async () => {
        running.delete(stack);
        try {
          await app.stop();
        } finally {
          await emulator.stop();
        }
      })();
      return stopping;
    },
  };
  running.add(stack);
  return stack;
}
