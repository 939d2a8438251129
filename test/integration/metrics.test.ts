import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createConfig } from '../../src/config.js';
import { createApiKey, createApiKeyAuthenticator } from '../../src/auth/api-keys.js';
import { createCloudflareTokenAuthenticator } from '../../src/auth/cloudflare-token.js';
import {
  CachedInstanceOutcomeDocument as OUTCOME,
  InstanceStatusChangedDocument as STATUS,
  WorkflowNameDocument as WORKFLOW_NAME,
} from '../generated/operations.js';
import { expectData } from '../helpers/graphql.js';
import { createInstance, freshId } from '../helpers/instances.js';
import { subscribe, wsClient } from '../helpers/live.js';
import { scrape, type Scrape } from '../helpers/metrics.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';
import { freePort } from '../helpers/ports.js';

/**
 * `/metrics` at the public boundary: real traffic against the emulator, then a scrape over HTTP parsed sample by
 * sample, with exact counts (issue 13, "Metrics").
 */

const ORDER = 'order-fulfillment';
/** Seeded complete by the emulator (src/emulator/README.md, "Demo data"). */
const FINISHED_ORDER = 'order-1001';
const INSTANCE_ROUTE = 'GET /workflows/{name}/instances/{id}';

const metricsUrl = (stack: Stack): string => (stack.url ?? '').replace(/\/graphql$/, '/metrics');

/** The change of each named series between two scrapes. */
const delta = (before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}): number =>
  after.value(name, labels) - before.value(name, labels);

describe('/metrics on the main port', () => {
  it('counts one query: its upstream call, operation, duration, cost and budget, exactly', async () => {
    const stack = await startStack({ listen: true, config: { upstream: { maxRetries: 0 } } });
    const url = metricsUrl(stack);
    const before = await scrape(url);

    expectData(await stack.graphql(OUTCOME, { workflowName: ORDER, id: FINISHED_ORDER }));
    expect(stack.upstreamCalls()).toBe(1);
    const after = await scrape(url);

    expect(delta(before, after, 'wfgql_upstream_requests_total', { route: INSTANCE_ROUTE, status: '200' })).toBe(1);
    expect(after.sum('wfgql_upstream_requests_total') - before.sum('wfgql_upstream_requests_total')).toBe(1);
    expect(delta(before, after, 'wfgql_upstream_request_duration_seconds_count', { route: INSTANCE_ROUTE })).toBe(1);
    const operation = { operation_type: 'query', operation_name: 'CachedInstanceOutcome', outcome: 'success' };
    expect(delta(before, after, 'wfgql_graphql_operations_total', operation)).toBe(1);
    expect(delta(before, after, 'wfgql_graphql_operation_duration_seconds_count')).toBe(1);
    expect(delta(before, after, 'wfgql_query_cost_count')).toBe(1);
    expect(delta(before, after, 'wfgql_query_cost_sum')).toBe(1);
    expect(after.value('wfgql_upstream_calls_in_flight')).toBe(0);
    expect(after.sum('wfgql_graphql_errors_total')).toBe(0);

    // One budget per credential in use, labelled by a hash: neither the account id nor the token.
    const budgets = after.all('wfgql_upstream_budget_remaining', { priority: 'interactive' });
    expect(budgets).toHaveLength(1);
    expect(budgets[0]?.labels.credential).toMatch(/^[0-9a-f]{12}$/);
    expect(budgets[0]?.value).toBe(stack.config.upstream.rateLimit - 1);
    // Node's process metrics come along.
    expect(after.value('process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it("exposes every cache's hits and misses at 0 before the first lookup, so that rates start from the first scrape", async () => {
    const stack = await startStack({ listen: true });
    const fresh = await scrape(metricsUrl(stack));
    for (const cache of ['documents', 'parse_errors', 'query_cost', 'finished_instances']) {
      for (const name of ['wfgql_cache_hits_total', 'wfgql_cache_misses_total']) {
        expect(fresh.all(name, { cache }), `${name} ${cache}`).toEqual([{ name, labels: { cache }, value: 0 }]);
      }
    }
  });

  it('counts cache hits: the same query again is answered from the document, cost and finished-instance caches', async () => {
    const stack = await startStack({ listen: true });
    const url = metricsUrl(stack);
    expectData(await stack.graphql(OUTCOME, { workflowName: ORDER, id: FINISHED_ORDER }));
    const before = await scrape(url);
    stack.resetCalls();

    expectData(await stack.graphql(OUTCOME, { workflowName: ORDER, id: FINISHED_ORDER }));
    const after = await scrape(url);

    expect(stack.upstreamCalls()).toBe(0);
    for (const cache of ['documents', 'query_cost', 'finished_instances']) {
      expect(delta(before, after, 'wfgql_cache_hits_total', { cache }), cache).toBe(1);
      expect(delta(before, after, 'wfgql_cache_misses_total', { cache }), cache).toBe(0);
    }
  });

  it('counts a 429 from the emulator as rate limited, and the refused operation by its error code', async () => {
    const stack = await startStack({ listen: true, config: { upstream: { maxRetries: 0 } } });
    stack.emulator.faults.set({ route: /\/instances\/\{instance_id\}$/, rateLimitRate: 1 });
    const url = metricsUrl(stack);
    const before = await scrape(url);

    const result = await stack.graphql(OUTCOME, { workflowName: ORDER, id: FINISHED_ORDER });
    expect(result.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    const after = await scrape(url);

    expect(delta(before, after, 'wfgql_upstream_rate_limited_total')).toBe(1);
    expect(delta(before, after, 'wfgql_upstream_requests_total', { route: INSTANCE_ROUTE, status: '429' })).toBe(1);
    expect(delta(before, after, 'wfgql_upstream_retries_total')).toBe(0);
    expect(delta(before, after, 'wfgql_graphql_errors_total', { code: 'RATE_LIMITED' })).toBe(1);
    const operation = { operation_type: 'query', operation_name: 'CachedInstanceOutcome', outcome: 'error' };
    expect(delta(before, after, 'wfgql_graphql_operations_total', operation)).toBe(1);
  });

  it('counts operations refused before they run as rejected, with their codes', async () => {
    const stack = await startStack({ listen: true, config: { maxQueryCost: 5 } });
    const url = metricsUrl(stack);
    const before = await scrape(url);

    const refusals = [
      ['query Broken {', 'GRAPHQL_PARSE_FAILED'],
      ['query Unknown { noSuchField }', 'GRAPHQL_VALIDATION_FAILED'],
      // Refused by a validation rule that throws (src/transport/document-limits.ts).
      [
        `query Deep { ${'workflows { nodes { instances { nodes { '.repeat(6)}instanceId${' } } } }'.repeat(6)} }`,
        'DOCUMENT_LIMIT',
      ],
      [
        'query Costly { workflows(first: 100) { nodes { instances(first: 100) { nodes { params } } } } }',
        'QUERY_TOO_EXPENSIVE',
      ],
    ] as const;
    for (const [query, code] of refusals) {
      const result = await stack.graphql(query);
      expect(result.errors?.[0]?.extensions?.['code'], query).toBe(code);
    }
    const after = await scrape(url);

    for (const [, code] of refusals) expect(delta(before, after, 'wfgql_graphql_errors_total', { code }), code).toBe(1);
    expect(
      delta(before, after, 'wfgql_graphql_operations_total', {
        outcome: 'rejected',
        operation_type: 'unknown',
        operation_name: 'unknown',
      }),
    ).toBe(1);
    for (const name of ['Unknown', 'Deep', 'Costly']) {
      const labels = { operation_type: 'query', operation_name: name, outcome: 'rejected' };
      expect(delta(before, after, 'wfgql_graphql_operations_total', labels), name).toBe(1);
    }
    expect(after.sum('wfgql_graphql_operations_total', { outcome: 'success' })).toBe(
      before.sum('wfgql_graphql_operations_total', { outcome: 'success' }),
    );
  });

  it('keeps operation names bounded and never shows a token, an instance id or a variable', async () => {
    const stack = await startStack({ listen: true });
    const url = metricsUrl(stack);
    const secret = `secret-${freshId('value')}`;
    const instanceId = freshId('hostile');
    await createInstance(stack, ORDER, instanceId, { card: secret });
    const query = print(OUTCOME).replace('CachedInstanceOutcome', 'NAME');
    // 150 distinct names, a 5,000-character one, and names that look like credentials.
    const names = [
      ...Array.from({ length: 150 }, (_, i) => `Op${i}`),
      `Long${'x'.repeat(5000)}`,
      `Bearer_${secret.replace(/-/g, '_')}`,
    ];
    for (const name of names) {
      expectData(await stack.graphql(query.replace('NAME', name), { workflowName: ORDER, id: instanceId }));
    }
    await stack.graphql('{ __typename }');
    const after = await scrape(url);

    const series = after.all('wfgql_graphql_operations_total');
    const distinct = new Set(series.map((s) => s.labels.operation_name));
    // At most 100 names (the createInstance mutation took one), `other` for the rest, and `anonymous`.
    expect(distinct.size).toBe(102);
    expect(distinct.has('other')).toBe(true);
    expect(distinct.has('anonymous')).toBe(true);
    expect(after.sum('wfgql_graphql_operations_total')).toBeGreaterThanOrEqual(names.length + 2);
    for (const forbidden of [
      secret,
      instanceId,
      stack.config.upstream.apiToken,
      stack.config.upstream.accountId,
      'x'.repeat(101),
    ]) {
      expect(after.text.includes(forbidden), forbidden).toBe(false);
    }
  });

  it('shows a subscription while it is open, its delivered events with their lag, and its end', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: 50 }, emulator: { clock: 'real' } });
    const url = metricsUrl(stack);
    const instanceId = freshId('live-metrics');
    await createInstance(stack, ORDER, instanceId);
    const field = { field: 'instanceStatusChanged' };
    const before = await scrape(url);
    expect(before.value('wfgql_live_subscriptions', field)).toBe(0);

    const client = wsClient(stack);
    const status = subscribe(client, STATUS, { workflowName: ORDER, instanceId });
    await waitFor(() => status.results.length > 0, { message: 'the first status event' });
    const during = await scrape(url);
    expect(during.value('wfgql_live_subscriptions', field)).toBe(1);
    expect(during.value('wfgql_live_connections', { transport: 'ws' })).toBe(1);
    expect(during.value('wfgql_live_poll_loops')).toBe(1);
    expect(during.value('wfgql_live_poll_cycle_seconds_count')).toBeGreaterThanOrEqual(1);
    const delivered = delta(before, during, 'wfgql_live_events_delivered_total');
    expect(delivered).toBeGreaterThanOrEqual(1);
    expect(delta(before, during, 'wfgql_live_delivery_lag_seconds_count')).toBe(delivered);
    const subscriptionOp = {
      operation_type: 'subscription',
      operation_name: 'InstanceStatusChanged',
      outcome: 'success',
    };
    expect(delta(before, during, 'wfgql_graphql_operations_total', subscriptionOp)).toBe(1);

    status.unsubscribe();
    await waitFor(() => stack.app.live.stats().subscribers === 0, { message: 'the subscription to end' });
    const ended = await scrape(url);
    expect(ended.value('wfgql_live_subscriptions', field)).toBe(0);
    expect(ended.value('wfgql_live_poll_loops')).toBe(0);
  });

  it('counts an open SSE stream as a connection until it closes', async () => {
    const stack = await startStack({ listen: true });
    const url = metricsUrl(stack);
    const abort = new AbortController();
    const response = await fetch(stack.url ?? '', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        query: print(STATUS),
        // Waiting for its payment: the stream stays open.
        variables: { workflowName: ORDER, instanceId: 'order-1004' },
      }),
      signal: abort.signal,
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body?.getReader();
    await reader?.read();
    expect((await scrape(url)).value('wfgql_live_connections', { transport: 'sse' })).toBe(1);

    abort.abort();
    await waitFor(() => stack.app.live.stats().subscribers === 0, { message: 'the SSE subscription to end' });
    expect((await scrape(url)).value('wfgql_live_connections', { transport: 'sse' })).toBe(0);
  });
});

/** `/metrics` refuses `headers` with `status` and `code`, and nothing of the exposition leaks into the refusal. */
async function expectRefused(url: string, headers: Record<string, string>, status: number, code: string) {
  const response = await fetch(url, { headers });
  const text = await response.text();
  expect(response.status, JSON.stringify(headers)).toBe(status);
  expect((JSON.parse(text) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe(code);
  expect(text).not.toContain('wfgql_');
  expect(text).not.toContain('process_');
}

describe('/metrics with authentication (AUTH_MODE=api-key)', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers 401 without credentials, 403 to a key limited to some workflows, and the metrics to a reader', async () => {
    dir = await mkdtemp(join(tmpdir(), 'metrics-keys-'));
    const reader = createApiKey({ id: 'reader', scopes: ['workflows:read'] });
    const limited = createApiKey({ id: 'limited', scopes: ['workflows:read'], workflows: [ORDER] });
    const writer = createApiKey({ id: 'writer', scopes: ['workflows:write'] });
    const keysFile = join(dir, 'keys.json');
    await writeFile(keysFile, JSON.stringify([reader.entry, limited.entry, writer.entry]));
    const stack = await startStack({ listen: true, authenticator: await createApiKeyAuthenticator(keysFile) });
    const url = metricsUrl(stack);
    expectData(await stack.graphql(WORKFLOW_NAME, { name: ORDER }, { authorization: `Bearer ${reader.key}` }));

    const refusals = [
      [{}, 401, 'UNAUTHENTICATED'],
      [{ authorization: 'Bearer wfgql_not-a-key' }, 401, 'UNAUTHENTICATED'],
      [{ authorization: `Bearer ${limited.key}` }, 403, 'FORBIDDEN'],
      [{ authorization: `Bearer ${writer.key}` }, 403, 'FORBIDDEN'],
    ] as const;
    for (const [headers, status, code] of refusals) await expectRefused(url, headers, status, code);

    const metrics = await scrape(url, { authorization: `Bearer ${reader.key}` });
    expect(
      metrics.value('wfgql_graphql_operations_total', {
        operation_type: 'query',
        operation_name: 'WorkflowName',
        outcome: 'success',
      }),
    ).toBe(1);
    expect(metrics.text).not.toContain(reader.key);
  });
});

describe('/metrics with AUTH_MODE=cloudflare-token', () => {
  it('is refused on the main port to any client token: holding one proves nothing about the other tenants', async () => {
    const stack = await startStack({
      listen: true,
      authenticator: createCloudflareTokenAuthenticator(''),
      config: { auth: { mode: 'cloudflare-token' } },
    });
    try {
      const headers = {
        authorization: 'Bearer notatoken-of-anyone-0000000000',
        'x-cloudflare-account-id': 'a'.repeat(32),
      };
      await expectRefused(metricsUrl(stack), headers, 403, 'FORBIDDEN');
    } finally {
      await stack.stop();
    }
  });
});

describe('METRICS_PORT and METRICS=false', () => {
  it('serves /metrics on its own port, not on the main one, and stops it with the app', async () => {
    const stack = await startStack({ listen: true, config: { metrics: { port: 0 } } });
    const separate = stack.app.metricsUrl;
    expect(separate).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(separate).not.toBe(metricsUrl(stack));
    expectData(await stack.graphql(WORKFLOW_NAME, { name: ORDER }));

    const metrics = await scrape(separate ?? '');
    expect(
      metrics.value('wfgql_graphql_operations_total', {
        operation_type: 'query',
        operation_name: 'WorkflowName',
        outcome: 'success',
      }),
    ).toBe(1);
    const main = await fetch(metricsUrl(stack));
    expect(main.status).toBe(404);
    expect(await main.text()).not.toContain('wfgql_');
    expect((await fetch((separate ?? '').replace(/\/metrics$/, '/graphql'))).status).toBe(404);

    await stack.stop();
    await expect(fetch(separate ?? '')).rejects.toThrow();
  });

  it('turns metrics off entirely: /metrics is a 404', async () => {
    const stack = await startStack({ listen: true, config: { metrics: { enabled: false } } });
    expect(stack.app.metrics).toBeUndefined();
    expectData(await stack.graphql(WORKFLOW_NAME, { name: ORDER }));
    const response = await fetch(metricsUrl(stack));
    expect(response.status).toBe(404);
    expect(await response.text()).not.toContain('wfgql_');
  });
});

/** A GET of `url` with exactly these headers (`host` included when given), and what came back. */
function getWith(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end();
  });
}

/** Whether a TCP connection to `host:port` is accepted. */
async function accepts(host: string, port: number): Promise<boolean> {
  const socket = connect(port, host);
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

describe('METRICS_PORT from the side of a page in a browser', () => {
  let stack: Stack;
  let url: string;
  beforeAll(async () => {
    stack = await startStack({ listen: true, config: { metrics: { port: 0 } } });
    url = stack.app.metricsUrl ?? '';
  });
  afterAll(() => stack.stop());

  it('refuses a foreign Host (a DNS-rebound name) with 421, and sends no metrics', async () => {
    const port = new URL(url).port;
    for (const host of [`evil.example:${port}`, 'evil.example', `127.0.0.1.evil.example:${port}`]) {
      const answer = await getWith(url, { host });
      expect([host, answer.status]).toEqual([host, 421]);
      expect(JSON.parse(answer.body)).toEqual({
        errors: [expect.objectContaining({ extensions: { code: 'HOST_NOT_ALLOWED' } })],
      });
      expect(answer.body).not.toMatch(/wfgql_|process_|nodejs_/);
    }
    // What a scraper sends: the address it dialled, or a loopback name.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, '10.1.2.3:9464', '[fd00::1]:9464'])
      expect([host, (await getWith(url, { host })).status]).toEqual([host, 200]);
  });

  it('refuses a foreign Host even when ALLOWED_HOSTS is * for the main port', async () => {
    const open = await startStack({ listen: true, config: { allowedHosts: ['*'], metrics: { port: 0 } } });
    try {
      const metricsUrl = open.app.metricsUrl ?? '';
      const answer = await getWith(metricsUrl, { host: 'rebind.evil.example' });
      expect(answer.status).toBe(421);
      expect(answer.body).not.toMatch(/wfgql_|process_|nodejs_/);
      expect((await getWith(metricsUrl, { host: '127.0.0.1' })).status).toBe(200);
      // The main port keeps its `*`.
      expect((await getWith(new URL('/healthz', open.url).href, { host: 'rebind.evil.example' })).status).toBe(200);
    } finally {
      await open.stop();
    }
  });

  it('answers a request Node cannot parse with a coded 400, as the main port does', async () => {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    await once(socket, 'connect');
    socket.write('NOT A REQUEST\r\n\r\n');
    await once(socket, 'close');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      errors: [expect.objectContaining({ extensions: { code: 'BAD_REQUEST' } })],
    });
  });

  it('refuses a request from a page of another origin with 403, and sends no metrics', async () => {
    for (const origin of ['https://evil.example', 'http://192.168.1.20:8080', 'null']) {
      const answer = await getWith(url, { origin });
      expect([origin, answer.status]).toEqual([origin, 403]);
      expect(JSON.parse(answer.body)).toEqual({
        errors: [expect.objectContaining({ extensions: { code: 'ORIGIN_NOT_ALLOWED' } })],
      });
      expect(answer.body).not.toMatch(/wfgql_|process_|nodejs_/);
    }
  });

  it('listens on loopback by default, even when the main server listens on every interface', async () => {
    const app = createApp(createConfig({ logLevel: 'silent', metrics: { port: 0 } }));
    try {
      const main = new URL(await app.start(0, '0.0.0.0'));
      const metrics = new URL(app.metricsUrl ?? '');
      expect(metrics.hostname).toBe('127.0.0.1');
      // From another address of this machine (as a neighbour on the network would come): the main port answers,
      // the metrics port does not.
      const external = Object.values(networkInterfaces())
        .flat()
        .find((address) => address?.family === 'IPv4' && !address.internal)?.address;
      if (external !== undefined) {
        expect(await accepts(external, Number(main.port))).toBe(true);
        expect(await accepts(external, Number(metrics.port))).toBe(false);
      }
    } finally {
      await app.stop();
    }
  });
});

describe('several apps in one process', () => {
  it('each expose the process metrics once, beside counters of their own', async () => {
    const [first, second] = await Promise.all([startStack({ listen: true }), startStack({ listen: true })]);
    expectData(await first!.graphql(WORKFLOW_NAME, { name: ORDER }));
    const operation = { operation_type: 'query', operation_name: 'WorkflowName', outcome: 'success' };
    for (const [stack, operations] of [
      [first!, 1],
      [second!, 0],
    ] as const) {
      const metrics = await scrape(metricsUrl(stack));
      expect(metrics.text.match(/^# TYPE process_cpu_user_seconds_total /gm)).toHaveLength(1);
      expect(metrics.text.match(/^# TYPE nodejs_eventloop_lag_seconds /gm)).toHaveLength(1);
      expect(metrics.value('process_start_time_seconds')).toBeGreaterThan(0);
      expect(metrics.value('wfgql_graphql_operations_total', operation)).toBe(operations);
      // Collected once for the process, not into each app's registry: prom-client's collector starts observers
      // that nothing stops, one set per call.
      const own = stack.app.metrics?.registry.getMetricsAsArray().map((metric) => metric.name) ?? [];
      expect(own.filter((name) => /^(process|nodejs)_/.test(name))).toEqual([]);
    }
    await Promise.all([first!.stop(), second!.stop()]);
  });
});

describe('start-up failures', () => {
  it('closes the metrics server and rejects, naming PORT, when the main port is taken', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as AddressInfo).port;
    const metricsPort = await freePort();
    const app = createApp(createConfig({ logLevel: 'silent', metrics: { port: metricsPort } }));
    try {
      await expect(app.start(taken, '127.0.0.1')).rejects.toThrow(
        `Cannot listen on 127.0.0.1:${taken} (PORT): the port is in use (EADDRINUSE)`,
      );
      expect(app.metricsUrl).toBeUndefined();
      // Nothing left listening: the metrics port is free again.
      expect(await accepts('127.0.0.1', metricsPort)).toBe(false);
    } finally {
      await app.stop();
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });

  it('rejects naming METRICS_PORT when the metrics port is taken', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const taken = (squatter.address() as AddressInfo).port;
    const app = createApp(createConfig({ logLevel: 'silent', metrics: { port: taken } }));
    try {
      await expect(app.start(0, '127.0.0.1')).rejects.toThrow(
        `Cannot listen on 127.0.0.1:${taken} (METRICS_PORT): the port is in use (EADDRINUSE)`,
      );
    } finally {
      await app.stop();
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  });
});
