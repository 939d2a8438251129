import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMonitorLine, startRedisMonitor, type MonitoredCommand } from '../helpers/redis-monitor.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { waitFor } from '../helpers/wait.js';

// The tests' and the benchmark's MONITOR reader (test/helpers/redis-monitor.ts), against the real redis-server.

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis.dispose());

describe('MONITOR reader', () => {
  it('reports each argument exactly as sent, quotes, backslashes, control and non-ASCII bytes included', async () => {
    const seen: MonitoredCommand[] = [];
    const monitor = await startRedisMonitor(redis.port, (command) => seen.push(command));
    try {
      const client = redis.client();
      const value = 'a "quoted" \\ back\r\nslash\t\x00\x07\x7f é 漢';
      await client.set('monitor:key', value);
      await waitFor(() => seen.some(({ args }) => args[0] === 'set'), { message: 'the SET on MONITOR' });
      const set = seen.find(({ args }) => args[0] === 'set')!;
      expect(set.args).toEqual(['set', 'monitor:key', value]);
      expect(set.source).toMatch(/^127\.0\.0\.1:\d+$/);
    } finally {
      monitor.stop();
    }
  });

  it('keeps every line that arrives in one read with MONITOR’s +OK, under a burst of scripts', async () => {
    // Commands already streaming when MONITOR starts: ioredis's monitor() lost such lines as uncaught errors.
    const client = redis.client();
    let running = true;
    const burst = (async () => {
      while (running) await client.eval("redis.call('TIME'); return 1", 0);
    })();
    try {
      const seen = Array.from({ length: 20 }, () => [] as MonitoredCommand[]);
      const monitors = await Promise.all(
        seen.map((lines) => startRedisMonitor(redis.port, (command) => lines.push(command))),
      );
      await waitFor(() => seen.every((lines) => lines.some(({ source }) => source === 'lua')), {
        message: 'a script’s TIME on every MONITOR connection',
      });
      for (const monitor of monitors) monitor.stop();
    } finally {
      running = false;
      await burst;
    }
  });

  it('refuses a line that is not a MONITOR line, rather than guessing', () => {
    expect(parseMonitorLine('+1700000000.000001 [0 lua] "TIME"')).toEqual({ source: 'lua', args: ['TIME'] });
    expect(() => parseMonitorLine('-ERR unknown command')).toThrow(/not a MONITOR line/);
    expect(() => parseMonitorLine('+1700000000.000001 [0 lua] "unterminated')).toThrow(/unterminated/);
  });
});
