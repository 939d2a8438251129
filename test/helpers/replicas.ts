import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { afterAll } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createConfig, loggedSecrets, type Config, type DeepPartial } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createScaleOut } from '../../src/redis/scale-out.js';
import type { GraphQLResult } from './stack.js';

/** One gateway of {@link startReplicas}. */
export interface Replica {
  readonly app: App;
  readonly config: Config;
  readonly url: string;
  /** The replica's log lines (level info and above), parsed. */
  readonly lines: { level: string; msg: string }[];
}

const running = new Set<Replica>();
afterAll(stopReplicas);

/**
 * Starts `count` gateways in this process, on ephemeral loopback ports, each with `config` over the defaults and
 * its own Redis connections when `config.redis.url` is set (built as src/main.ts builds them): replicas with the
 * same REDIS_URL and REDIS_KEY_PREFIX share through Redis as separate processes would (issue 14). Without
 * `redis.url`, each is a gateway alone.
 */
export async function startReplicas(count: number, overrides: DeepPartial<Config>): Promise<Replica[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const lines: Replica['lines'] = [];
      const config = createConfig({ logLevel: 'info', ...overrides });
      const logger = createLogger(config.logLevel, loggedSecrets(config), {
        destination: { write: (line: string) => void lines.push(JSON.parse(line) as Replica['lines'][number]) },
      });
      const redisUrl = config.redis.url;
      const scaleOut =
        redisUrl === undefined
          ? undefined
          : await createScaleOut({
              redis: { ...config.redis, url: redisUrl },
              upstream: config.upstream,
              pollIntervalMs: config.pollIntervalMs,
              logger,
            });
      const app = createApp(config, { logger, ...(scaleOut ? { scaleOut } : {}) });
      const replica: Replica = { app, config, lines, url: await app.start(0, '127.0.0.1') };
      running.add(replica);
      return replica;
    }),
  );
}

/**
 * Stops every replica started so far. A file's afterAll calls it before stopping Redis and the emulator (hooks of
 * this module run after the file's own); safe to call twice.
 */
export async function stopReplicas(): Promise<void> {
  const replicas = [...running];
  running.clear();
  await Promise.all(replicas.map((replica) => replica.app.stop()));
}

/** Runs a typed operation on one replica over HTTP. */
export async function graphqlAt<T, V>(
  replica: Replica,
  document: TypedDocumentNode<T, V>,
  variables: V,
): Promise<GraphQLResult<T>> {
  const response = await fetch(replica.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return (await response.json()) as GraphQLResult<T>;
}
