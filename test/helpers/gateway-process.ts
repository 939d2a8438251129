import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { spawnEntry, type SpawnedProcess } from './process.js';
import type { GraphQLResult, Variables } from './stack.js';

/** One JSON log line of a gateway process (LOG_FORMAT is json in remote mode). */
export interface LogLine {
  readonly level: string;
  readonly msg: string;
}

/** A gateway (`src/main.ts`) running as a process of its own, as `npm start` runs it. */
export interface GatewayProcess {
  readonly process: SpawnedProcess;
  /** `http://127.0.0.1:PORT/graphql`. */
  readonly url: string;
  /** `/metrics` on the main port (served there without credentials while AUTH_MODE is unset on loopback). */
  readonly metricsUrl: string;
  /** POSTs one typed operation to `/graphql` and returns the parsed body. */
  graphql<T, V>(document: TypedDocumentNode<T, V>, variables: Variables<V>): Promise<GraphQLResult<T>>;
  /** The log lines written so far (stderr) whose `msg` matches `pattern`. */
  logLines(pattern: RegExp): LogLine[];
  /** SIGTERM, then waits for the process to exit. Safe to call after it died. */
  stop(): Promise<void>;
}

/** How long a start may take: tsx compiles the sources first, and CI has 2 cores for several processes. */
const START_TIMEOUT_MS = 60_000;

/**
 * Starts `src/main.ts` in node (`--import tsx`, so that SIGKILL and SIGTERM reach the server itself) on an
 * ephemeral loopback port with `env`, and resolves once it printed the URL it serves.
 */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawnEntry('src/main.ts', { HOST: '127.0.0.1', PORT: '0', ...env }, { importTsx: true });
  const [, url] = await child.waitForLine(/Workflows GraphQL .* at (http:\/\/\S+\/graphql)/, {
    timeoutMs: START_TIMEOUT_MS,
  });
  return {
    process: child,
    url: url!,
    metricsUrl: url!.replace(/\/graphql$/, '/metrics'),
    async graphql(document, variables) {
      const response = await fetch(url!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query: print(document), variables }),
      });
      const text = await response.text();
      try {
        return JSON.parse(text) as GraphQLResult<never>;
      } catch {
        throw new Error(`/graphql answered ${response.status} with a body that is not JSON: ${text.slice(0, 500)}`);
      }
    },
    logLines(pattern) {
      const lines = child.stderr().split('\n');
      // The last piece is a line still being written (or nothing).
      return lines
        .slice(0, -1)
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as LogLine)
        .filter((line) => pattern.test(line.msg));
    },
    async stop() {
      if (child.child.exitCode === null && child.child.signalCode === null) child.kill('SIGTERM');
      await child.exited();
    },
  };
}
