import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  InstanceStatusChangedDocument as STATUS,
  type InstanceStatusChangedSubscription,
} from '../generated/operations.js';
import { subscribe, valuesOf, wsClient, type CollectedSubscription } from '../helpers/live.js';
import { startStack, type GraphQLResult, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import { SAFETY_MARGIN } from '../../src/upstream/budget.js';

const WORKFLOW = 'order-fulfillment';
/** Setup calls use their own token, so that they never eat the gateway's budget at the emulator. */
const SETUP_TOKEN = 'budget-setup-token';

/** Calls the emulator's REST API with the setup token; `path` is relative to the workflow's instances. */
async function setup(stack: Stack, method: string, path: string, body: unknown): Promise<void> {
  const base = `${stack.emulator.url}/accounts/${stack.config.upstream.accountId}/workflows/${WORKFLOW}/instances`;
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${SETUP_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(200);
}

/** Subscribes to the status of a new instance and waits for its first event. */
async function watchNewInstance(
  stack: Stack,
  instanceId: string,
): Promise<CollectedSubscription<InstanceStatusChangedSubscription>> {
  await setup(stack, 'POST', '', { instance_id: instanceId });
  const sub = subscribe(wsClient(stack), STATUS, { workflowName: WORKFLOW, instanceId });
  await waitFor(() => sub.results.length > 0 || sub.done, { message: 'the first event', timeoutMs: 10_000 });
  return sub;
}

const terminated = (sub: CollectedSubscription<InstanceStatusChangedSubscription>) =>
  valuesOf(sub.results, (d) => d.instanceStatusChanged?.status ?? 'null').includes('TERMINATED');

/** A query reading `count` instances that do not exist: `count` upstream requests, each answered 404. */
function instancesQuery(prefix: string, count: number): string {
  const fields = Array.from(
    { length: count },
    (_, i) => `i${i}: instance(workflowName: "${WORKFLOW}", instanceId: "${prefix}-${i}") { instanceId }`,
  );
  return `{ ${fields.join(' ')} }`;
}

/** POSTs a query to the listening server from `localAddress` (a loopback address), as a separate client would. */
function postFrom(stack: Stack, localAddress: string, query: string): Promise<GraphQLResult<Record<string, unknown>>> {
  const url = new URL(stack.url ?? '');
  const body = JSON.stringify({ query });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as GraphQLResult<never>));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const codesOf = (result: GraphQLResult<unknown>): unknown[] =>
  (result.errors ?? []).map((e) => e.extensions?.code).filter((c, i, all) => all.indexOf(c) === i);

const refusedByEmulator = (stack: Stack) => stack.emulator.requests.entries.filter((e) => e.status === 429).length;

/** The gateway's polls of one instance (setup calls are PATCHes and POSTs: never one of these). */
const pollsOf = (stack: Stack, instanceId: string) =>
  stack.emulator.requests.entries.filter(
    (e) => e.method === 'GET' && e.route.endsWith('/instances/{instance_id}') && e.path.endsWith(`/${instanceId}`),
  );

/** The gateway's budget for its configured credential, as the poll loops read it. */
const budgetOf = (stack: Stack) => stack.app.upstream.budget(stack.app.upstream.default.credential.key);

describe('live updates under a tight budget', () => {
  it('resumes polling at the Retry-After of a 429, and a terminate reaches subscribers promptly', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: 250 } });
    const sub = await watchNewInstance(stack, 'after-429');
    stack.emulator.faults.set({ rateLimitRate: 1 });
    await waitFor(() => refusedByEmulator(stack) > 0, { message: 'a poll answered 429 (Retry-After: 1)' });
    stack.emulator.faults.clear();
    const refusedAt = stack.emulator.requests.entries.find((e) => e.status === 429)?.at ?? 0;

    await setup(stack, 'PATCH', '/after-429/status', { status: 'terminate' });
    // Before: the 429 emptied the bucket, and polls waited about 60 s for the reserve to refill.
    await waitFor(() => terminated(sub), { message: 'TERMINATED after the 429', timeoutMs: 10_000 });
    const nextPoll = pollsOf(stack, 'after-429').find((e) => e.at > refusedAt && e.status === 200);
    expect(nextPoll, 'a poll after the 429').toBeDefined();
    expect(sub.error).toBeUndefined();
    expect(refusedByEmulator(stack)).toBe(1);
  });

  it('delivers first and later events when Ratelimit reports fewer left than the old reserve', async () => {
    // Cloudflare's limit is 1200 per 5 minutes (the gateway's default); here another client of the account has
    // spent most of a 200-request window, so upstream reports far fewer left than 20 % of 1200.
    const stack = await startStack({
      listen: true,
      emulator: { rateLimit: { limit: 200, windowS: 60 } },
      config: { pollIntervalMs: 250 },
    });
    stack.emulator.spendRateLimit(stack.config.upstream.apiToken, 120);
    // Interactive queries first: their answers tell the gateway how little is left.
    for (let i = 0; i < 3; i++) expect(codesOf(await stack.graphql(instancesQuery(`q${i}`, 2)))).toEqual([]);

    const sub = await watchNewInstance(stack, 'tight-window');
    expect(sub.error).toBeUndefined();
    expect(sub.results).toHaveLength(1);
    expect(codesOf(await stack.graphql(instancesQuery('between', 2)))).toEqual([]);
    await setup(stack, 'PATCH', '/tight-window/status', { status: 'terminate' });
    await waitFor(() => terminated(sub), { message: 'TERMINATED under the tight window', timeoutMs: 10_000 });
    expect(sub.error).toBeUndefined();
    expect(refusedByEmulator(stack)).toBe(0);
  });

  it('keeps polling when another client drains the window after the gateway first saw it', async () => {
    const stack = await startStack({
      listen: true,
      emulator: { rateLimit: { limit: 200, windowS: 60 } },
      config: { pollIntervalMs: 250 },
    });
    // The gateway sees the window nearly whole (r=199), then another client of the account spends 170 of it:
    // fewer are left than 20 % of what the gateway first saw.
    expect(codesOf(await stack.graphql(instancesQuery('first', 1)))).toEqual([]);
    stack.emulator.spendRateLimit(stack.config.upstream.apiToken, 170);

    const sub = await watchNewInstance(stack, 'drained-later');
    // Before: the reserve stayed 20 % of the 199 first seen, more than the 27 left, and polls stopped for most
    // of the window.
    expect(budgetOf(stack)).toMatchObject({ backgroundWaitMs: 0 });
    expect(budgetOf(stack).backgroundAvailable).toBeGreaterThan(0);
    const polls = pollsOf(stack, 'drained-later').length;
    await waitFor(() => pollsOf(stack, 'drained-later').length > polls, {
      message: 'the next poll',
      timeoutMs: 10_000,
    });
    await setup(stack, 'PATCH', '/drained-later/status', { status: 'terminate' });
    await waitFor(() => terminated(sub), { message: 'TERMINATED in the drained window', timeoutMs: 10_000 });
    expect(sub.error).toBeUndefined();
    expect(refusedByEmulator(stack)).toBe(0);
  });

  it('never sends more than the limit into one upstream window, under bursts of concurrent queries', async () => {
    const limit = 30;
    const stack = await startStack({
      emulator: { rateLimit: { limit, windowS: 10 } },
      config: { upstream: { rateLimit: limit, rateWindowS: 10 } },
    });
    const codes = new Set<unknown>();
    // Waves of 40 concurrent queries of 25 distinct instances each: the first spends the window while its answers
    // are in flight (and the own bucket refills), the later ones find it spent.
    for (let wave = 0; wave < 4; wave++) {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, q) => stack.graphql(instancesQuery(`w${wave}-q${q}`, 25))),
      );
      for (const result of results) for (const code of codesOf(result)) codes.add(code);
    }
    expect([...codes]).toEqual(['RATE_LIMITED']);
    // Before: 31 requests reached one window and the emulator's limiter answered 429.
    expect(refusedByEmulator(stack)).toBe(0);
    const at = stack.emulator.requests.entries.map((e) => e.at);
    for (const start of at)
      expect(at.filter((t) => t >= start && t < start + 10_000).length).toBeLessThanOrEqual(limit);
    // The window is used, less the margin: not wasted by an over-cautious budget.
    expect(stack.upstreamCalls()).toBeGreaterThanOrEqual(limit - SAFETY_MARGIN - 1);
  });

  it('resumes subscriptions within 5 s of upstream returning after an outage', { timeout: 40_000 }, async () => {
    const stack = await startStack({
      listen: true,
      config: { pollIntervalMs: 250, upstream: { maxRetries: 0 } },
    });
    const sub = await watchNewInstance(stack, 'after-outage');
    stack.emulator.faults.set({ errorRate: 1 });
    // Back-offs of 0.5, 1, 2 and 4 s, then the cap: before, the sixth failed poll was followed by 16 s of silence.
    const failed = () => stack.emulator.requests.entries.filter((e) => e.status === 500).length;
    await waitFor(() => failed() >= 6, { message: 'six failed polls', timeoutMs: 25_000 });
    stack.emulator.faults.clear();
    await setup(stack, 'PATCH', '/after-outage/status', { status: 'terminate' });
    await waitFor(() => terminated(sub), { message: 'TERMINATED within the 5 s back-off cap', timeoutMs: 8_000 });
    expect(sub.error).toBeUndefined();
    expect(valuesOf(sub.results, (d) => d.instanceStatusChanged?.status ?? 'null').at(-1)).toBe('TERMINATED');
  });
});

describe('fair shares of the budget (CLIENT_BUDGET_SHARE)', () => {
  const fairStack = () =>
    startStack({
      listen: true,
      emulator: { rateLimit: { limit: 30, windowS: 10 } },
      config: { upstream: { rateLimit: 30, rateWindowS: 10, clientBudgetShare: 0.5 } },
    });

  it('keeps answering a second client while another one bursts', async () => {
    const stack = await fairStack();
    expect(codesOf(await postFrom(stack, '127.0.0.2', instancesQuery('b-first', 1)))).toEqual([]);
    // Before: the burst took the whole window (30 answered), and then everyone was refused.
    const burst = await Promise.all([1, 2].map((n) => postFrom(stack, '127.0.0.1', instancesQuery(`a${n}`, 25))));
    const burstCodes = burst.flatMap(codesOf);
    expect(burstCodes).toContain('RATE_LIMITED');
    const second = await postFrom(stack, '127.0.0.2', instancesQuery('b-second', 5));
    expect(second.errors).toBeUndefined();
    expect(refusedByEmulator(stack)).toBe(0);
  });

  it('lets a lone client use the whole window', async () => {
    const stack = await fairStack();
    const result = await postFrom(stack, '127.0.0.1', instancesQuery('alone', 25));
    expect(result.errors).toBeUndefined();
    expect(stack.upstreamCalls()).toBe(25);
  });
});
