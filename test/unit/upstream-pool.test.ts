import { describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { createUpstream } from '../../src/upstream/client.js';
import { ok, reply, startFakeUpstream, upstreamConfig, wireInstanceDetails } from '../helpers/fake-upstream.js';

const DETAILS = wireInstanceDetails();

/**
 * Sends `calls` instance GETs at once to a fake upstream that answers each after 20 ms (upstream latency, long
 * enough on loopback for whatever else the client may send to arrive first), and returns the most requests it
 * held at the same time.
 */
async function mostInFlight(pool: { connections: number; pipelining: number }, calls: number): Promise<number> {
  const held: ServerResponse[] = [];
  let most = 0;
  let answered = 0;
  const fake = await startFakeUpstream((_req, res) => {
    held.push(res);
    most = Math.max(most, held.length);
    setTimeout(() => {
      held.splice(held.indexOf(res), 1);
      reply(res, 200, ok(DETAILS));
      answered++;
    }, 20);
  });
  const upstream = createUpstream(upstreamConfig(fake.url, pool));
  try {
    const ids = Array.from({ length: calls }, (_, i) => `i-${i}`);
    await Promise.all(ids.map((id) => upstream.default.getInstance('wf', id)));
    expect(answered).toBe(calls);
    return most;
  } finally {
    await upstream.close();
  }
}

describe('upstream connection pool', () => {
  it('sends parallel calls over as many connections as it needs when UPSTREAM_CONNECTIONS is 0', async () => {
    expect(await mostInFlight({ connections: 0, pipelining: 1 }, 12)).toBeGreaterThan(4);
  });

  it('keeps at most UPSTREAM_CONNECTIONS requests in flight without pipelining', async () => {
    expect(await mostInFlight({ connections: 2, pipelining: 1 }, 12)).toBe(2);
  });

  it('pipelines up to UPSTREAM_PIPELINING reads on each connection', async () => {
    expect(await mostInFlight({ connections: 1, pipelining: 3 }, 12)).toBe(3);
  });
});
