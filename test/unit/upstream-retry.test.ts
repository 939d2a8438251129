import { describe, expect, it } from 'vitest';
import { createUpstream } from '../../src/upstream/client.js';
import { UpstreamRateLimitedError, TimeoutError, UnavailableError } from '../../src/upstream/errors.js';
import { parseRetryAfter } from '../../src/upstream/retry.js';
import {
  fail,
  failureOf,
  ok,
  reply,
  startFakeUpstream,
  upstreamConfig,
  wireWorkflow,
} from '../helpers/fake-upstream.js';
import { manualClock } from '../helpers/manual-clock.js';

const workflow = wireWorkflow();
const created = { id: 'i-1', status: 'queued', version_id: 'v1', workflow_id: 'wf-1' };

describe('upstream timeouts', () => {
  it('fails a read with a headers TimeoutError when upstream never answers', async () => {
    const fake = await startFakeUpstream(() => undefined);
    const upstream = createUpstream(upstreamConfig(fake.url, { headersTimeoutMs: 100 }));
    const error = await failureOf(upstream.default.getWorkflow('orders'));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'TIMEOUT', phase: 'headers', retryable: true, status: null });
    await upstream.close();
  });

  it('fails with a body TimeoutError when upstream stalls mid-body', async () => {
    const fake = await startFakeUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"success":true,');
    });
    const upstream = createUpstream(upstreamConfig(fake.url, { bodyTimeoutMs: 100 }));
    const error = await failureOf(upstream.default.getWorkflow('orders'));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ phase: 'body', status: 200 });
    await upstream.close();
  });

  it('does not replay a POST that timed out waiting for headers: its outcome is unknown', async () => {
    const fake = await startFakeUpstream(() => undefined);
    const time = manualClock();
    const upstream = createUpstream(upstreamConfig(fake.url, { headersTimeoutMs: 100, maxRetries: 2 }), time);
    const error = await failureOf(upstream.default.createInstance('orders', { instanceId: 'i-1' }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('outcome of this POST is unknown');
    expect(fake.requests).toHaveLength(1);
    await upstream.close();
  });
});

describe('upstream retries', () => {
  it('retries a read after 5xx answers and network failures, then succeeds', async () => {
    let calls = 0;
    const fake = await startFakeUpstream((_req, res) => {
      calls += 1;
      if (calls === 1) reply(res, 503, fail({ code: 10001, message: 'workflows.api.error.internal_server' }));
      else if (calls === 2) res.socket?.destroy();
      else reply(res, 200, ok(workflow));
    });
    const time = manualClock();
    const upstream = createUpstream(upstreamConfig(fake.url, { maxRetries: 2 }), time);
    const result = await upstream.default.getWorkflow('orders');
    expect(result.name).toBe('orders');
    expect(fake.requests).toHaveLength(3);
    expect(time.sleeps).toHaveLength(2);
    // Full jitter: each wait lies within its exponential ceiling.
    expect(time.sleeps[0]).toBeLessThanOrEqual(200);
    expect(time.sleeps[1]).toBeLessThanOrEqual(400);
    expect(upstream.stats.snapshot()).toMatchObject({
      total: 3,
      retries: 2,
      byStatus: { '200': 1, '503': 1, network: 1 },
    });
    await upstream.close();
  });

  it('stops after maxRetries retries and surfaces the last error', async () => {
    const fake = await startFakeUpstream((_req, res) => reply(res, 500, {}));
    const upstream = createUpstream(upstreamConfig(fake.url, { maxRetries: 2 }), manualClock());
    const error = await failureOf(upstream.default.getWorkflow('orders'));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(fake.requests).toHaveLength(3);
    await upstream.close();
  });

  it('does not retry answers that cannot change (404)', async () => {
    const fake = await startFakeUpstream((_req, res) =>
      reply(res, 404, fail({ code: 10200, message: 'workflows.api.error.workflow.not_found' })),
    );
    const upstream = createUpstream(upstreamConfig(fake.url, { maxRetries: 2 }), manualClock());
    await failureOf(upstream.default.getWorkflow('orders'));
    expect(fake.requests).toHaveLength(1);
    await upstream.close();
  });

  it('keeps retries within the retry budget during an outage', async () => {
    const fake = await startFakeUpstream((_req, res) => reply(res, 503, {}));
    const time = manualClock();
    // random() = 0 makes every backoff 0 ms, so no time passes and the budget cannot refill by time.
    const upstream = createUpstream(upstreamConfig(fake.url, { maxRetries: 3 }), { ...time, random: () => 0 });
    const calls = 30;
    for (let i = 0; i < calls; i++) await failureOf(upstream.default.getInstance('orders', `i-${i}`));
    const { retries, total } = upstream.stats.snapshot();
    expect(total).toBe(calls + retries);
    expect(retries).toBeGreaterThanOrEqual(3);
    // 3 to start with plus 20 % of the calls; without a budget it would be 90.
    expect(retries).toBeLessThanOrEqual(3 + 0.2 * calls);
    await upstream.close();
  });

  it('honours Retry-After on a 429 and retries a read', async () => {
    let calls = 0;
    const fake = await startFakeUpstream((_req, res) => {
      calls += 1;
      if (calls === 1) reply(res, 429, fail({ code: 971, message: 'rate limited' }), { 'retry-after': '2' });
      else reply(res, 200, ok(workflow));
    });
    const time = manualClock();
    const upstream = createUpstream(upstreamConfig(fake.url, { maxRetries: 2 }), time);
    await upstream.default.getWorkflow('orders');
    expect(time.sleeps).toEqual([2000]);
    expect(fake.requests).toHaveLength(2);
    await upstream.close();
  });

  it('after a 429 without Retry-After or Ratelimit, waits a second (every request does), then retries', async () => {
    let calls = 0;
    const fake = await startFakeUpstream((_req, res) => {
      calls += 1;
      if (calls === 1) reply(res, 429, fail({ code: 971, message: 'rate limited' }));
      else reply(res, 200, ok(workflow));
    });
    const time = manualClock();
    const upstream = createUpstream(upstreamConfig(fake.url, { maxRetries: 1 }), time);
    await upstream.default.getWorkflow('orders');
    expect(time.sleeps).toEqual([1000]);
    expect(fake.requests).toHaveLength(2);
    await upstream.close();
  });

  it('honours Retry-After given as an HTTP date', async () => {
    const time = manualClock();
    let calls = 0;
    const fake = await startFakeUpstream((_req, res) => {
      calls += 1;
      if (calls === 1) reply(res, 503, {}, { 'retry-after': new Date(time.now() + 3000).toUTCString() });
      else reply(res, 200, ok(workflow));
    });
    const upstream = createUpstream(upstreamConfig(fake.url, { maxRetries: 1 }), time);
    await upstream.default.getWorkflow('orders');
    expect(time.sleeps).toHaveLength(1);
    expect(time.sleeps[0]).toBeGreaterThan(2000);
    expect(time.sleeps[0]).toBeLessThanOrEqual(3000);
    await upstream.close();
  });

  it('fails with retryAfterMs instead of waiting when Retry-After exceeds the cap, and sends nothing until then', async () => {
    const fake = await startFakeUpstream((_req, res) =>
      reply(res, 429, fail({ code: 971, message: 'rate limited' }), { 'retry-after': '120' }),
    );
    const time = manualClock();
    const upstream = createUpstream(upstreamConfig(fake.url, { maxRetries: 2 }), time);
    const error = await failureOf(upstream.default.getWorkflow('orders'));
    expect(error).toBeInstanceOf(UpstreamRateLimitedError);
    expect(error).toMatchObject({ source: 'upstream', retryAfterMs: 120_000 });
    expect(time.sleeps).toEqual([]);
    expect(fake.requests).toHaveLength(1);
    // Until Retry-After has passed, nothing more is sent: calls fail fast from the budget.
    const next = await failureOf(upstream.default.getWorkflow('other'));
    expect(next).toMatchObject({ code: 'RATE_LIMITED', source: 'budget', retryAfterMs: 120_000 });
    expect(fake.requests).toHaveLength(1);
    expect(upstream.budget(upstream.default.credential.key).available).toBe(0);
    await upstream.close();
  });

  it('never replays a POST whose connection broke after it was sent', async () => {
    const fake = await startFakeUpstream((_req, res) => res.socket?.destroy());
    const time = manualClock();
    const upstream = createUpstream(upstreamConfig(fake.url, { maxRetries: 3 }), time);
    const error = await failureOf(upstream.default.createInstance('orders', { instanceId: 'i-1', params: { a: 1 } }));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('outcome of this POST is unknown');
    expect(fake.requests).toHaveLength(1);
    expect(JSON.parse(fake.requests[0]?.body ?? '')).toEqual({ instance_id: 'i-1', params: { a: 1 } });
    await upstream.close();
  });

  it('does not replay a write that got a 5xx', async () => {
    const fake = await startFakeUpstream((_req, res) => reply(res, 500, {}));
    const upstream = createUpstream(upstreamConfig(fake.url, { maxRetries: 3 }), manualClock());
    const error = await failureOf(
      upstream.default.changeInstanceStatus('orders', 'i-1', { action: 'terminate', rollback: true }),
    );
    expect(error).toMatchObject({ code: 'UNAVAILABLE', retryable: false });
    expect(fake.requests).toHaveLength(1);
    expect(JSON.parse(fake.requests[0]?.body ?? '')).toEqual({ status: 'terminate', rollback: true });
    await upstream.close();
  });

  it('retries a POST after a 429: it was refused before execution', async () => {
    let calls = 0;
    const fake = await startFakeUpstream((_req, res) => {
      calls += 1;
      if (calls === 1) reply(res, 429, fail({ code: 971, message: 'rate limited' }), { 'retry-after': '1' });
      else reply(res, 200, ok(created));
    });
    const time = manualClock();
    const upstream = createUpstream(upstreamConfig(fake.url, { maxRetries: 2 }), time);
    const result = await upstream.default.createInstance('orders', { instanceId: 'i-1' });
    expect(result).toEqual({ id: 'i-1', status: 'queued', versionId: 'v1', workflowId: 'wf-1' });
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]?.body).toBe(fake.requests[0]?.body);
    expect(time.sleeps).toEqual([1000]);
    await upstream.close();
  });

  it('retries a POST whose connection was refused: it was never sent', async () => {
    const fake = await startFakeUpstream();
    const url = fake.url;
    await fake.stop();
    const time = manualClock();
    const upstream = createUpstream(upstreamConfig(url, { maxRetries: 2 }), time);
    const error = await failureOf(upstream.default.createInstance('orders', {}));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.retryable).toBe(true);
    expect(error.message).toContain('ECONNREFUSED');
    expect(time.sleeps).toHaveLength(2);
    expect(upstream.stats.snapshot()).toMatchObject({ total: 3, retries: 2, byStatus: { network: 3 } });
    await upstream.close();
  });

  it('parses Retry-After seconds and HTTP dates, and ignores garbage', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('5', now)).toBe(5000);
    expect(parseRetryAfter('0.5', now)).toBe(500);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });
});
