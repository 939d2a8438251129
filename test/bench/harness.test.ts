import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../src/auth/index.js';
import { loadConfig } from '../../src/config.js';
import { BENCH_AUTH_MODES, createAuthSetups } from './auth-modes.js';
import { spawnTs, stopAll } from './children.js';
import { describeRoutes, requestsPerInterval } from './counts.js';
import { measureDelivery } from './delivery.js';
import { checkBody } from './load-spec.js';
import { countCommand, describeCalls, meanCalls, subtractCalls, totalCalls } from './redis-commands.js';
import { readCpuSeconds } from './proc.js';
import { renderTable, tally, type ScenarioResult } from './report.js';
import { GATEWAY_READY_LINE, gatewayEnv } from './stack.js';
import { median, percentile } from './stats.js';
import { Fatal, waitFor } from './wait.js';

afterAll(stopAll);

describe('percentile', () => {
  it('interpolates between closest ranks', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10, 0, 5], 100)).toBe(10);
    expect(median([3, 1, 2])).toBe(2);
  });

  it('is NaN for no values rather than a made-up number', () => {
    expect(percentile([], 95)).toBeNaN();
  });
});

describe('checkBody', () => {
  it('accepts GraphQL data without errors', () => {
    expect(checkBody('graphql', '{"data":{"instance":{"status":"RUNNING"}}}')).toBeUndefined();
  });

  it('rejects a 200 that carries GraphQL errors, a null data and non-JSON', () => {
    expect(checkBody('graphql', '{"errors":[{"message":"x"}],"data":{"instance":null}}')).toBe('has errors');
    expect(checkBody('graphql', '{"data":null}')).toBe('has no data');
    expect(checkBody('json', '<html>')).toBe('not JSON');
  });
});

describe('measureDelivery', () => {
  it('takes the first event after the trigger that shows a wanted status, per subscription', () => {
    const delivery = measureDelivery(
      {
        type: 'report',
        events: {
          a: [
            [
              [100, 'RUNNING'],
              [1150, 'RUNNING'],
              [1400, 'WAITING_FOR_PAUSE'],
              [1500, 'PAUSED'],
            ],
            [[100, 'RUNNING']],
          ],
          b: [[[900, 'PAUSED']]],
        },
      },
      new Map([
        ['a', { sentAt: 1000, statuses: new Set(['WAITING_FOR_PAUSE', 'PAUSED']) }],
        // An event before the trigger does not count as its delivery.
        ['b', { sentAt: 1000, statuses: new Set(['PAUSED']) }],
      ]),
    );
    // Events from the trigger on count whatever their status: the three of a's first subscriber.
    expect(delivery).toEqual({
      latenciesMs: [400],
      undelivered: 2,
      subscriptions: 3,
      firstMs: [400],
      spreadMs: [0],
      events: 3,
    });
  });
});

describe('Redis command counts (S7)', () => {
  it('counts what clients send from MONITOR lines, leaving out the commands scripts run', () => {
    const calls = new Map<string, number>();
    countCommand(calls, ['EVALSHA', 'f00d', '1', 'wfgql:budget:x'], '127.0.0.1:50001');
    countCommand(calls, ['hset', 'wfgql:budget:x', 'tokens', '3'], 'lua');
    countCommand(calls, ['get', 'wfgql:finished:x'], '127.0.0.1:50002');
    countCommand(calls, ['GET', 'wfgql:finished:y'], '127.0.0.1:50001');
    expect(calls).toEqual(
      new Map([
        ['evalsha', 1],
        ['get', 2],
      ]),
    );
  });

  it('subtracts a background averaged over two idle windows, per command', () => {
    const background = meanCalls([
      new Map([['evalsha', 10]]),
      new Map([
        ['evalsha', 12],
        ['publish', 1],
      ]),
    ]);
    const net = subtractCalls(
      new Map([
        ['evalsha', 14],
        ['get', 100],
      ]),
      background,
    );
    expect(net).toEqual(
      new Map([
        ['evalsha', 3],
        ['get', 100],
        ['publish', -0.5],
      ]),
    );
    expect(totalCalls(net)).toBe(102.5);
    expect(describeCalls(net)).toBe('get ×100, evalsha ×3, publish ×-0.5');
  });
});

describe('report', () => {
  const results: ScenarioResult[] = [
    {
      id: 's1',
      title: 'one | instance',
      metrics: [
        {
          name: 'throughput',
          value: 1234.5,
          baseline: 2000,
          ratio: 0.61725,
          unit: 'req/s',
          target: 'ratio >= 0.85',
          verdict: 'MISS',
        },
        { name: 'calls', value: 51, unit: '', target: '51', verdict: 'PASS' },
      ],
      notes: [],
      durationS: 1,
    },
    { id: 's6', title: 'cold start', metrics: [], notes: [], error: 'gateway exited\nstack', durationS: 1 },
  ];

  it('renders one row per metric and a MISS row for a scenario that could not run', () => {
    expect(renderTable(results).split('\n')).toEqual([
      '| scenario | metric | value | baseline | ratio | target | result |',
      '| --- | --- | ---: | ---: | ---: | --- | --- |',
      '| S1 one \\| instance | throughput | 1,235 req/s | 2,000 req/s | 0.62 | ratio >= 0.85 | MISS |',
      '| S1 one \\| instance | calls | 51 |  |  | 51 | PASS |',
      '| S6 cold start | (could not run) | | | | gateway exited | MISS |',
    ]);
  });

  it('counts a scenario that could not run as a MISS', () => {
    expect(tally(results)).toEqual({ PASS: 1, MISS: 2, INFO: 0 });
  });

  it('lists upstream routes most frequent first, without the account prefix', () => {
    expect(
      describeRoutes({
        total: 3,
        instanceLists: 1,
        instanceGets: 2,
        statusChanges: 0,
        rateLimited: 0,
        byRoute: {
          'GET /accounts/{account_id}/workflows/{workflow_name}/instances': 1,
          'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}': 2,
        },
        firstAt: 1000,
        lastAt: 1100,
      }),
    ).toBe('GET …/{workflow_name}/instances/{instance_id} ×2, GET …/{workflow_name}/instances ×1');
  });

  it('rates requests per interval between the first and the last, whatever the phase of the window', () => {
    const counts = { instanceLists: 0, instanceGets: 0, statusChanges: 0, rateLimited: 0, byRoute: {} };
    // Nine polls at 0.5 s, 1.5 s ... 8.5 s and eight at 1 s ... 8 s both poll once per second.
    expect(requestsPerInterval({ ...counts, total: 9, firstAt: 500, lastAt: 8500 }, 1000)).toBe(1);
    expect(requestsPerInterval({ ...counts, total: 8, firstAt: 1000, lastAt: 8000 }, 1000)).toBe(1);
    // One extra request in the same span shows.
    expect(requestsPerInterval({ ...counts, total: 10, firstAt: 500, lastAt: 8500 }, 1000)).toBe(9 / 8);
    expect(requestsPerInterval({ ...counts, total: 1, firstAt: 500, lastAt: 500 }, 1000)).toBeNaN();
  });
});

describe('child processes', () => {
  it('waits for a printed line and stops the child', async () => {
    const child = spawnTs('echo', 'test/bench/fixtures/print-and-wait.ts', ['hello 42']);
    const [, n] = await child.waitForLine(/^hello (\d+)$/, 10_000);
    expect(n).toBe('42');
    await child.stop();
    expect(child.process.exitCode !== null || child.process.signalCode !== null).toBe(true);
  });

  it('rejects with the output when the child exits before printing the line', async () => {
    const child = spawnTs('crasher', 'test/bench/fixtures/print-and-wait.ts', ['--exit']);
    await expect(child.waitForLine(/^never$/, 10_000)).rejects.toThrow(
      /exited \(3\) before printing.*\n.*about to exit/s,
    );
  });

  it('gives up a wait at once on a Fatal error, and at the deadline otherwise', async () => {
    await expect(waitFor('x', () => Promise.reject(new Fatal('stop now')), { timeoutMs: 60_000 })).rejects.toThrow(
      'stop now',
    );
    await expect(waitFor('the impossible', () => undefined, { timeoutMs: 50, intervalMs: 10 })).rejects.toThrow(
      'timed out after 50 ms waiting for the impossible',
    );
  });
});

describe('S1AUTH wiring', () => {
  it("gives each mode a gateway environment whose authenticator accepts that mode's credential", async () => {
    const dir = await mkdtemp(join(os.tmpdir(), 'bench-harness-'));
    try {
      const setups = await createAuthSetups(dir, 'bench-s1-auth');
      for (const mode of BENCH_AUTH_MODES) {
        const env = gatewayEnv({
          upstreamUrl: 'http://127.0.0.1:9/client/v4',
          rateLimit: { limit: 1, windowS: 1 },
          env: setups[mode].env,
        });
        const config = loadConfig(env);
        expect(config.auth.mode).toBe(mode);
        const principal = await (
          await createAuthenticator(config)
        ).authenticate(setups[mode].authorization, new Headers());
        expect(principal.mode).toBe(mode);
        if (mode !== 'none') expect(principal.workflows).toEqual(['bench-s1-auth']);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("recognises the gateway's start-up line in every mode", () => {
    for (const mode of BENCH_AUTH_MODES) {
      const line = `Workflows GraphQL (remote mode, AUTH_MODE=${mode}) at http://127.0.0.1:4000/graphql, upstream http://x`;
      expect(line.match(GATEWAY_READY_LINE)?.[1]).toBe('http://127.0.0.1:4000');
    }
  });

  it("reads a process's CPU time, which grows while it computes", async () => {
    const before = await readCpuSeconds(process.pid);
    // Spin until the 10 ms tick has moved: a condition on CPU time, never on the wall clock.
    let after = before;
    for (let spins = 0; after === before && spins < 10_000; spins++) {
      for (let i = 0; i < 100_000; i++) Math.sqrt(i);
      after = await readCpuSeconds(process.pid);
    }
    expect(after).toBeGreaterThan(before);
  });
});
