import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createUpstream } from '../../src/upstream/client.js';
import { AbortedError, UpstreamRateLimitedError } from '../../src/upstream/errors.js';
import { parseRateLimitHeader } from '../../src/upstream/budget.js';
import {
  ACCOUNT,
  failureOf,
  ok,
  reply,
  startFakeUpstream,
  TOKEN,
  upstreamConfig,
  wireWorkflow,
  wireInstanceDetails,
} from '../helpers/fake-upstream.js';
import { manualClock } from '../helpers/manual-clock.js';
import { waitFor } from '../helpers/wait.js';

const workflow = (name: string) => wireWorkflow({ id: `wf-${name}`, name });
const details = wireInstanceDetails();

describe('in-flight de-duplication', () => {
  it('makes one upstream request for 20 concurrent identical GETs and shares its result', async () => {
    const held: ServerResponse[] = [];
    const fake = await startFakeUpstream((_req, res) => held.push(res));
    const upstream = createUpstream(upstreamConfig(fake.url));
    const calls = Array.from({ length: 20 }, () => upstream.default.getInstance('orders', 'i-1'));
    await waitFor(() => held.length === 1, { message: 'the first request' });
    for (const res of held) reply(res, 200, ok(details));
    const results = await Promise.all(calls);
    expect(fake.requests).toHaveLength(1);
    expect(new Set(results).size).toBe(1);
    expect(upstream.stats.snapshot()).toMatchObject({ total: 1, deduplicated: 19 });
    expect(upstream.budget(upstream.default.credential.key).available).toBe(1199);
    await upstream.close();
  });

  it('never shares a request between two credentials', async () => {
    const held: ServerResponse[] = [];
    const fake = await startFakeUpstream((_req, res) => held.push(res));
    const upstream = createUpstream(upstreamConfig(fake.url));
    const other = upstream.forCredential(ACCOUNT, 'another-token-123456');
    const both = Promise.all([upstream.default.getInstance('orders', 'i-1'), other.getInstance('orders', 'i-1')]);
    await waitFor(() => held.length === 2, { message: 'both requests' });
    for (const res of held) reply(res, 200, ok(details));
    await both;
    expect(fake.requests.map((r) => r.headers.authorization).sort()).toEqual(
      [`Bearer ${TOKEN}`, 'Bearer another-token-123456'].sort(),
    );
    await upstream.close();
  });

  it('lets one caller abort without cancelling the request the others wait for', async () => {
    const held: ServerResponse[] = [];
    const fake = await startFakeUpstream((_req, res) => held.push(res));
    const upstream = createUpstream(upstreamConfig(fake.url));
    const controller = new AbortController();
    const leaving = upstream.default.getInstance('orders', 'i-1', {}, { signal: controller.signal });
    const staying = upstream.default.getInstance('orders', 'i-1');
    await waitFor(() => held.length === 1, { message: 'the request' });
    controller.abort();
    expect(await failureOf(leaving)).toBeInstanceOf(AbortedError);
    for (const res of held) reply(res, 200, ok(details));
    expect((await staying).status).toBe('running');
    expect(fake.requests).toHaveLength(1);
    await upstream.close();
  });
});

describe('request budget', () => {
  it('refuses background work once only the reserve is left, while interactive work still goes out', async () => {
    const fake = await startFakeUpstream((req, res) =>
      reply(res, 200, ok(workflow(decodeURIComponent(req.url.split('/').pop() ?? '')))),
    );
    const time = manualClock();
    // 10 tokens per hour: refill is negligible (and the clock stands still).
    const upstream = createUpstream(upstreamConfig(fake.url, { rateLimit: 10, rateWindowS: 3600 }), time);
    const api = upstream.default;
    const key = api.credential.key;
    // Polls leave interactive work a share (20 %) of what the bucket holds: of the last request, all of it.
    for (let i = 0; i < 9; i++) await api.getWorkflow(`w${i}`, { priority: 'background' });
    expect(upstream.budget(key)).toEqual({
      capacity: 10,
      available: 1,
      backgroundAvailable: 0,
      backgroundRatePerSecond: expect.closeTo((0.8 * 10) / 3600, 12),
      // Until the bucket holds 1.25 requests, of which 80 % is a whole one. Before: until it held 4 (the reserve
      // was a fixed 3 of the capacity), whatever was left.
      backgroundWaitMs: 90_000,
      resetInMs: null,
    });

    const refused = await failureOf(api.getWorkflow('bg', { priority: 'background' }));
    expect(refused).toBeInstanceOf(UpstreamRateLimitedError);
    expect(refused).toMatchObject({ source: 'budget', retryAfterMs: 90_000 });
    expect(fake.requests).toHaveLength(9);

    await api.getWorkflow('interactive');
    expect(fake.requests).toHaveLength(10);
    const empty = await failureOf(api.getWorkflow('one-more'));
    expect(empty).toMatchObject({ code: 'RATE_LIMITED', source: 'budget', retryAfterMs: 360_000, status: null });
    expect(fake.requests).toHaveLength(10);
    expect(upstream.stats.snapshot().rateLimited).toBe(2);

    // Refill is continuous: one window-share later one interactive token is back.
    time.advance(360_000);
    await api.getWorkflow('later');
    expect(fake.requests).toHaveLength(11);
    await upstream.close();
  });

  it('keeps budgets apart per credential', async () => {
    const fake = await startFakeUpstream((_req, res) => reply(res, 200, ok(workflow('w'))));
    const upstream = createUpstream(upstreamConfig(fake.url, { rateLimit: 4, rateWindowS: 3600 }), manualClock());
    const a = upstream.default;
    const b = upstream.forCredential(ACCOUNT, 'another-token-123456');
    for (let i = 0; i < 4; i++) await a.getWorkflow(`w${i}`);
    await expect(a.getWorkflow('x')).rejects.toThrow(UpstreamRateLimitedError);
    await b.getWorkflow('x');
    expect(upstream.budget(a.credential.key).available).toBe(0);
    expect(upstream.budget(b.credential.key).available).toBe(3);
    expect(upstream.forCredential(ACCOUNT, 'another-token-123456')).toBe(b);
    expect(b.credential.key).toMatch(/^0123456789abcdef0123456789abcdef:[0-9a-f]{16}$/);
    expect(JSON.stringify(b.credential)).not.toContain('another-token-123456');
    await upstream.close();
  });

  it('corrects the bucket down from the Ratelimit header and holds it until upstream resets', async () => {
    let header = '"default";r=5;t=60';
    const fake = await startFakeUpstream((_req, res) => reply(res, 200, ok(workflow('w')), { ratelimit: header }));
    const time = manualClock();
    const upstream = createUpstream(upstreamConfig(fake.url), time);
    const key = upstream.default.credential.key;
    await upstream.default.getWorkflow('a');
    // Upstream's count, less a request of margin.
    expect(upstream.budget(key).available).toBe(4);

    // Within the window, a higher remaining count (an answer overtaken by a later one) never raises it.
    header = '"default";r=900;t=60';
    await upstream.default.getWorkflow('b');
    expect(upstream.budget(key).available).toBe(4);

    // Continuous refill (4 per second) stays capped by upstream's count until its reset time...
    time.advance(30_000);
    expect(upstream.budget(key).available).toBe(4);
    // ...and resumes afterwards.
    time.advance(31_000);
    expect(upstream.budget(key).available).toBeGreaterThan(100);
    await upstream.close();
  });

  it("stops every request as soon as a 429's headers arrive, before its body has been read", async () => {
    const held: ServerResponse[] = [];
    const fake = await startFakeUpstream((_req, res) => {
      // The headers go out at once; the body stays unfinished until the test ends it.
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '30' });
      res.write('{"success":false,');
      held.push(res);
    });
    const time = manualClock();
    const upstream = createUpstream(upstreamConfig(fake.url), time);
    const key = upstream.default.credential.key;
    const refusedCall = failureOf(upstream.default.getWorkflow('a'));
    await waitFor(() => upstream.stats.snapshot().byStatus['429'] === 1, { message: "the 429's headers" });
    // Before: the budget heard of the 429 only once the body was read, and meanwhile let 1199 more requests go.
    expect(upstream.budget(key)).toMatchObject({ available: 0, backgroundWaitMs: 30_000 });
    expect(await failureOf(upstream.default.getWorkflow('b'))).toMatchObject({ source: 'budget' });
    expect(fake.requests).toHaveLength(1);
    for (const res of held) res.end('"errors":[{"code":971,"message":"rate limited"}],"messages":[],"result":null}');
    expect(await refusedCall).toMatchObject({ code: 'RATE_LIMITED' });
    await upstream.close();
  });

  it('parses the Ratelimit header and ignores what it cannot read', () => {
    expect(parseRateLimitHeader('"default";r=50;t=30')).toEqual({ remaining: 50, resetS: 30 });
    expect(parseRateLimitHeader('"burst";r=9;t=1, "default";r=3;t=200')).toEqual({ remaining: 3, resetS: 200 });
    expect(parseRateLimitHeader('nonsense')).toBeNull();
    expect(parseRateLimitHeader(undefined)).toBeNull();
  });
});

describe('request shape', () => {
  it('percent-encodes every path segment, cron instance ids included', async () => {
    const fake = await startFakeUpstream((_req, res) => reply(res, 200, ok(details)));
    const upstream = createUpstream(upstreamConfig(fake.url));
    const cronId = '*/30 * * * *-1786001400000';
    await upstream.default.getInstance('nightly job', cronId);
    const url = fake.requests[0]?.url ?? '';
    expect(url).toBe(
      `/client/v4/accounts/${ACCOUNT}/workflows/nightly%20job/instances/%2A%2F30%20%2A%20%2A%20%2A%20%2A-1786001400000`,
    );
    expect(decodeURIComponent(url.split('/').pop() ?? '')).toBe(cronId);
    await upstream.close();
  });

  it('counts requests per route template and status', async () => {
    const fake = await startFakeUpstream((req, res) =>
      req.method === 'DELETE'
        ? reply(res, 404, {})
        : reply(res, 200, ok(req.method === 'POST' ? { instanceId: 'i', timestamp: '2026-01-01T00:00:00Z' } : details)),
    );
    const upstream = createUpstream(upstreamConfig(fake.url));
    await upstream.default.getInstance('orders', 'a');
    await upstream.default.getInstance('orders', 'b');
    const sent = await upstream.default.sendInstanceEvent('orders', 'a', 'approved', { ok: true });
    expect(sent.timestamp).toEqual(new Date('2026-01-01T00:00:00Z'));
    await expect(upstream.default.deleteInstance('orders', 'a')).rejects.toThrow(
      'DELETE /workflows/{name}/instances/{id} failed with HTTP 404',
    );
    expect(upstream.stats.snapshot()).toEqual({
      total: 4,
      byRoute: {
        'GET /workflows/{name}/instances/{id}': 2,
        'POST /workflows/{name}/instances/{id}/events/{type}': 1,
        'DELETE /workflows/{name}/instances/{id}': 1,
      },
      byStatus: { '200': 3, '404': 1 },
      rateLimited: 0,
      deduplicated: 0,
      retries: 0,
    });
    upstream.stats.reset();
    expect(upstream.stats.total).toBe(0);
    await upstream.close();
  });
});
