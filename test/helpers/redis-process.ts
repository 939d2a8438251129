import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';

/** Debian's redis-server (`.ci/run` installs the package when it is missing). */
export const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisServer {
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Whether the server is running now. */
  readonly running: boolean;
  /** The running server's process id (for a synchronous kill when the caller exits), if it is running. */
  readonly pid: number | undefined;
  /** Stops the server (SIGKILL: an outage, as clients see it) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again, empty, on the same port, and waits until it answers PING. */
  restart(): Promise<void>;
  /** A client for the test's own reads (keys, values); closed by {@link dispose}. */
  client(): Redis;
  /** Stops the server for good and removes its directory. Safe to call twice. */
  dispose(): Promise<void>;
}

/** Resolves once the server on `port` answers PING; rejects when `child` exits first or the deadline passes. */
async function waitForPing(port: number, child: ChildProcess, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = child.exitCode !== null;
  child.once('exit', () => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`redis-server on port ${port} exited before answering PING`);
    const answered = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let data = '';
      socket.setTimeout(500, () => socket.destroy());
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        data += chunk.toString();
        if (data.includes('\r\n')) {
          socket.destroy();
          resolve(data.startsWith('+PONG'));
        }
      });
      socket.on('error', () => resolve(false));
      socket.on('close', () => resolve(false));
    });
    if (answered) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
}

function spawnServer(port: number, dir: string): ChildProcess {
  const child = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.resume();
  return child;
}

/**
 * Starts Debian's redis-server on an ephemeral loopback port (another free port is tried when the one picked is
 * taken before redis-server binds it), without persistence, and waits until it answers PING. The caller disposes
 * of it: tests through redis-server.ts (after all tests of a file), the benchmark through its scope
 * (test/bench/s7-scale-out.ts); this module imports no test runner, so that both can use it.
 */
export async function launchRedisServer(): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`${REDIS_SERVER} is missing: apt-get install redis-server`);
  const dir = mkdtempSync(join(tmpdir(), 'wfgql-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    child = spawnServer(port, dir);
    try {
      await waitForPing(port, child);
      break;
    } catch (error) {
      child.kill('SIGKILL');
      if (attempt >= 4) throw error;
    }
  }
  const clients: Redis[] = [];
  let disposed: Promise<void> | undefined;
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  };
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    get pid() {
      return server.running ? child?.pid : undefined;
    },
    stop,
    async restart() {
      await stop();
      // The same port, so that clients reconnect to it: retried while the old socket is still being released.
      const deadline = Date.now() + 10_000;
      for (;;) {
        child = spawnServer(port, dir);
        try {
          await waitForPing(port, child);
          return;
        } catch (error) {
          child.kill('SIGKILL');
          child = undefined;
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
    client() {
      const client = new Redis(server.url, { maxRetriesPerRequest: 1, lazyConnect: false });
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    dispose() {
      disposed ??= (async () => {
        for (const client of clients) client.disconnect();
        await stop();
        rmSync(dir, { recursive: true, force: true });
      })();
      return disposed;
    },
  };
  return server;
}
