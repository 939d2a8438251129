import { afterAll } from 'vitest';
import { launchRedisServer, type RedisServer } from './redis-process.js';

export { REDIS_SERVER, type RedisServer } from './redis-process.js';

const servers = new Set<RedisServer>();
afterAll(async () => {
  await Promise.all([...servers].map((server) => server.dispose()));
});

/** {@link launchRedisServer}, disposed of after the test file's last test if the file does not do it first. */
export async function startRedisServer(): Promise<RedisServer> {
  const server = await launchRedisServer();
  servers.add(server);
  return server;
}
