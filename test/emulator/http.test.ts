import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/emulator/rate-limit.js';
import { ACCOUNT, rest, startEmulator, TOKEN } from './support.js';

describe('request log', () => {
  it('records the query of every request, parsed and raw', async () => {
    const emulator = await startEmulator();
    await rest(emulator, 'GET', '/order-fulfillment/instances/order-1001?simple=true&order=desc');
    await rest(emulator, 'GET', '/order-fulfillment/instances?status=complete&status=errored');
    await rest(emulator, 'GET', '/order-fulfillment');
    const [details, list, plain] = emulator.requests.entries.slice(-3);
    expect(details).toMatchObject({
      query: { simple: 'true', order: 'desc' },
      search: 'simple=true&order=desc',
      route: 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}',
    });
    expect(list).toMatchObject({ query: { status: 'errored' }, search: 'status=complete&status=errored' });
    expect(plain).toMatchObject({ query: {}, search: '' });
  });
});

describe('rate limiting', () => {
  it('sends no rate-limit headers unless it is enabled', async () => {
    const emulator = await startEmulator();
    const response = await rest(emulator, 'GET', '/order-fulfillment');
    expect([response.headers.get('ratelimit'), response.headers.get('ratelimit-policy')]).toEqual([null, null]);
  });

  it('puts Ratelimit and Ratelimit-Policy on every answer once enabled, errors included', async () => {
    const emulator = await startEmulator({ rateLimit: { limit: 100, windowS: 60 } });
    const answers = [
      await rest(emulator, 'GET', '/order-fulfillment'),
      await rest(emulator, 'GET', '/nope/instances/x'),
      await rest(emulator, 'GET', '/order-fulfillment/nothing/here'),
      await rest(emulator, 'POST', '/order-fulfillment'),
      await rest(emulator, 'POST', '/order-fulfillment/instances', {
        rawBody: '{',
        headers: { 'content-type': 'application/json' },
      }),
      await rest(emulator, 'GET', '/order-fulfillment', { headers: { authorization: 'Basic nope' } }),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 404, 404, 405, 400, 401]);
    for (const answer of answers) {
      expect(answer.headers.get('ratelimit')).toMatch(/^"default";r=\d+;t=\d+$/);
      expect(answer.headers.get('ratelimit-policy')).toBe('"burst";q=100;w=60');
    }
    const outside = await fetch(emulator.url.replace('/client/v4', '/elsewhere'), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect([outside.status, outside.headers.get('ratelimit-policy')]).toEqual([404, '"burst";q=100;w=60']);
    // The fifth request with this token leaves 95 of 100; the one with a bad credential counts for the client address.
    expect(answers[4]!.headers.get('ratelimit')).toMatch(/^"default";r=95;/);
  });

  it('answers 429 with Retry-After once a token has used its window, and counts tokens apart', async () => {
    const emulator = await startEmulator({ rateLimit: { limit: 1, windowS: 60 } });
    expect((await rest(emulator, 'GET', '')).status).toBe(200);
    const limited = await rest(emulator, 'GET', '');
    expect(limited.status).toBe(429);
    expect(limited.body.errors[0]).toMatchObject({ code: 971 });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(limited.headers.get('ratelimit')).toMatch(/^"default";r=0;t=\d+$/);
    const other = await fetch(`${emulator.url}/accounts/${ACCOUNT}/workflows`, {
      headers: { authorization: 'Bearer another-token' },
    });
    expect(other.status).toBe(200);
  });

  it('rounds Retry-After and the reset time up to whole seconds', () => {
    const limiter = createRateLimiter({ limit: 1, windowS: 2.5 });
    expect(limiter.take('k', 0)).toEqual({
      allowed: true,
      headers: { ratelimit: '"default";r=0;t=3', 'ratelimit-policy': '"burst";q=1;w=2.5' },
    });
    expect(limiter.take('k', 100).headers['retry-after']).toBe('3');
    expect(limiter.take('k', 1_600).headers['retry-after']).toBe('1');
    expect(limiter.take('k', 2_499).headers['retry-after']).toBe('1');
    expect(limiter.take('k', 2_500).allowed).toBe(true);
    expect(() => createRateLimiter({ limit: 0, windowS: 1 })).toThrow(/positive integer/);
  });
});
