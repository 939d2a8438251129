import type { IncomingHttpHeaders } from 'node:http';
import { print } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient } from 'graphql-ws';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startTracing } from '../../src/tracing/sdk.js';
import { InstancePageFullDetailsDocument, InstanceStatusChangedDocument } from '../generated/operations.js';
import { expectData } from '../helpers/graphql.js';
import { createInstance } from '../helpers/instances.js';
import { subscribe } from '../helpers/live.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { refusedPort } from '../helpers/ports.js';
import { spawnEntry } from '../helpers/process.js';
import { startStack, type Stack, type StackOptions } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// Traces at the public boundary: spans go out through the real OTLP/HTTP exporter, configured by the OTEL_*
// variables, to a fake collector on loopback (test/helpers/otlp-receiver.ts); traceparents are read where the
// upstream receives them (the stack's loopback proxy in front of the emulator).

const WORKFLOW = 'flaky-import';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CLIENT_SPAN_ID}-01`;

/** A WebSocket that sends {@link TRACEPARENT} with its upgrade request, as a traced client does. */
class TracedWebSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols, { headers: { traceparent: TRACEPARENT } });
  }
}
/** OTLP's span kinds and status codes. */
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

/** Runs `fn` with `vars` in process.env, as the SDK reads its variables from there when it starts. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

interface TracedStack {
  readonly stack: Stack;
  readonly receiver: OtlpReceiver;
  /** The headers of every request that reached the upstream, in order. */
  readonly upstreamHeaders: IncomingHttpHeaders[];
}

/** A stack traced as main.ts would trace it when `OTEL_EXPORTER_OTLP_ENDPOINT` points at a fake collector. */
async function tracedStack(options: StackOptions = {}, env: Record<string, string> = {}): Promise<TracedStack> {
  const receiver = await startOtlpReceiver();
  const vars = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, ...env };
  expect(loadConfig(vars).tracing.enabled).toBe(true);
  const tracing = await withEnv(vars, () => startTracing(createLogger('silent')));
  const upstreamHeaders: IncomingHttpHeaders[] = [];
  const stack = await startStack({
    ...options,
    tracing,
    interceptUpstream: ({ headers }) => {
      upstreamHeaders.push(headers);
      return 'forward';
    },
  });
  return { stack, receiver, upstreamHeaders };
}

async function seedInstances(stack: Stack, count: number): Promise<void> {
  await stack.rest(
    'POST',
    `/${WORKFLOW}/instances/batch`,
    Array.from({ length: count }, (_, i) => ({ instance_id: `trace-${String(i).padStart(2, '0')}`, params: { i } })),
  );
}

const byKind = (spans: readonly ReceivedSpan[], kind: number) => spans.filter((s) => s.kind === kind);
const countBy = (values: readonly string[]) =>
  values.reduce<Record<string, number>>((counts, v) => ({ ...counts, [v]: (counts[v] ?? 0) + 1 }), {});

describe('traces', () => {
  it('make a dashboard query one operation span with 51 upstream child spans in the trace of its traceparent', async () => {
    const { stack, receiver, upstreamHeaders } = await tracedStack(
      { config: { finishedInstanceTtlMs: 60_000 } },
      { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test' },
    );
    await seedInstances(stack, 50);
    const data = expectData(
      await stack.graphql(
        InstancePageFullDetailsDocument,
        { workflowName: WORKFLOW, first: 50 },
        { traceparent: TRACEPARENT, tracestate: 'vendor=value' },
      ),
    );
    expect(data.workflow?.instances.nodes).toHaveLength(50);
    // Stopping flushes: every span is exported before stop() resolves.
    await stack.stop();

    expect(
      receiver.requests.every((r) => r.path === '/v1/traces' && r.contentType.startsWith('application/json')),
    ).toBe(true);
    const { spans } = receiver;
    expect(spans).toHaveLength(52);
    const [operation, ...others] = byKind(spans, SERVER);
    expect(others).toEqual([]);
    expect(operation).toMatchObject({
      name: 'query InstancePageFullDetails',
      traceId: TRACE_ID,
      parentSpanId: CLIENT_SPAN_ID,
      attributes: { 'graphql.operation.type': 'query', 'graphql.operation.name': 'InstancePageFullDetails' },
      resource: { 'service.name': 'workflows-graphql', 'deployment.environment.name': 'test' },
    });
    expect(operation?.status.code ?? 0).not.toBe(ERROR);

    const upstream = byKind(spans, CLIENT);
    expect(upstream).toHaveLength(51);
    expect(upstream.every((s) => s.traceId === TRACE_ID && s.parentSpanId === operation?.spanId)).toBe(true);
    expect(countBy(upstream.map((s) => s.name))).toEqual({
      'GET /workflows/{name}/instances': 1,
      'GET /workflows/{name}/instances/{id}': 50,
    });
    expect(upstream.find((s) => s.name.endsWith('{id}'))?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.response.status_code': 200,
      'url.template': '/workflows/{name}/instances/{id}',
      'wfgql.upstream.priority': 'interactive',
      'wfgql.upstream.retries': 0,
      'wfgql.upstream.waited_ms': 0,
    });
    expect(typeof upstream[0]?.attributes['wfgql.upstream.budget_available']).toBe('number');

    // Each upstream request carried its own span's traceparent: the operation's trace, never the client's span.
    const sent = upstreamHeaders.map((h) => h.traceparent);
    expect(sent).toHaveLength(51);
    expect(new Set(sent)).toEqual(new Set(upstream.map((s) => `00-${TRACE_ID}-${s.spanId}-01`)));
    expect(upstreamHeaders.every((h) => h.tracestate === 'vendor=value')).toBe(true);

    // Route templates only: no workflow name, instance id, query parameter or token in any span.
    const exported = JSON.stringify(spans);
    for (const secret of [WORKFLOW, 'trace-07', 'simple=', stack.config.upstream.apiToken]) {
      expect(exported).not.toContain(secret);
    }
  });

  it('start a new trace for an operation without a traceparent, and give refused documents an error status with their code', async () => {
    const { stack, receiver, upstreamHeaders } = await tracedStack();
    expectData(await stack.graphql(InstancePageFullDetailsDocument, { workflowName: WORKFLOW, first: 1 }));
    const refused = await stack.graphql('query Refused { noSuchField }');
    expect(refused.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
    await stack.stop();

    const operations = byKind(receiver.spans, SERVER);
    expect(operations).toHaveLength(2);
    const [query, failed] = operations;
    expect(query).toMatchObject({ name: 'query InstancePageFullDetails', parentSpanId: '' });
    expect(query?.traceId).not.toBe(TRACE_ID);
    expect(failed).toMatchObject({
      parentSpanId: '',
      status: { code: ERROR, message: 'GRAPHQL_VALIDATION_FAILED' },
      attributes: { 'error.type': 'GRAPHQL_VALIDATION_FAILED' },
    });
    const upstream = byKind(receiver.spans, CLIENT);
    expect(upstream.length).toBeGreaterThan(0);
    expect(upstream.every((s) => s.parentSpanId === query?.spanId && s.traceId === query.traceId)).toBe(true);
    expect(upstreamHeaders).toHaveLength(upstream.length);
  });

  it('make graphql-ws operations children of the upgrade request’s traceparent; background polls carry none', async () => {
    const { stack, receiver, upstreamHeaders } = await tracedStack({ listen: true, config: { pollIntervalMs: 50 } });
    await createInstance(stack, WORKFLOW, 'traced-ws');
    const viaMutation = upstreamHeaders.length;
    const client = createClient({
      url: (stack.url as string).replace(/^http/, 'ws'),
      webSocketImpl: TracedWebSocket,
      retryAttempts: 0,
    });
    try {
      const query = subscribe(client, InstancePageFullDetailsDocument, { workflowName: WORKFLOW, first: 2 });
      await waitFor(() => query.done, { message: 'the query over graphql-ws' });
      expect(query.results[0]?.data?.workflow?.instances.nodes).toHaveLength(2);
      const watch = subscribe(client, InstanceStatusChangedDocument, {
        workflowName: WORKFLOW,
        instanceId: 'traced-ws',
      });
      // Two polls after the first event: the poll loop has called upstream on its own.
      await waitFor(() => watch.results.length > 0, { message: 'the first event' });
      const afterFirst = upstreamHeaders.length;
      await waitFor(() => upstreamHeaders.length >= afterFirst + 2, { message: 'two more polls' });
      watch.unsubscribe();
    } finally {
      await client.dispose();
    }
    await stack.stop();

    const operations = byKind(receiver.spans, SERVER).filter((s) => s.traceId === TRACE_ID);
    expect(operations.map((s) => s.name)).toEqual([
      'query InstancePageFullDetails',
      'subscription InstanceStatusChanged',
    ]);
    expect(operations.every((s) => s.parentSpanId === CLIENT_SPAN_ID)).toBe(true);
    const upstream = byKind(receiver.spans, CLIENT);
    const ids = new Set(byKind(receiver.spans, SERVER).map((s) => s.spanId));
    expect(upstream.every((s) => ids.has(s.parentSpanId))).toBe(true);
    expect(upstream.filter((s) => s.parentSpanId === operations[0]?.spanId)).toHaveLength(3);
    // Exactly the requests with a span carry a traceparent; the poll loop's (after the mutation's) carry none.
    const traced = upstreamHeaders.filter((h) => h.traceparent !== undefined);
    expect(new Set(traced.map((h) => h.traceparent))).toEqual(
      new Set(upstream.map((s) => `00-${s.traceId}-${s.spanId}-01`)),
    );
    expect(upstreamHeaders.slice(viaMutation).some((h) => h.traceparent === undefined)).toBe(true);
  });

  it('give an operation refused over graphql-ws a span too, with its code, in the trace of the upgrade', async () => {
    const { stack, receiver } = await tracedStack({ listen: true });
    const client = createClient({
      url: (stack.url as string).replace(/^http/, 'ws'),
      webSocketImpl: TracedWebSocket,
      retryAttempts: 0,
    });
    let refusal: unknown;
    try {
      await new Promise<void>((resolve) => {
        client.subscribe(
          { query: 'query Refused { noSuchField }' },
          {
            next: () => {},
            error: (error) => {
              refusal = error;
              resolve();
            },
            complete: resolve,
          },
        );
      });
    } finally {
      await client.dispose();
    }
    expect(JSON.stringify(refusal)).toContain('GRAPHQL_VALIDATION_FAILED');
    await stack.stop();

    const operations = byKind(receiver.spans, SERVER);
    expect(operations).toHaveLength(1);
    expect(operations[0]).toMatchObject({
      name: 'query Refused',
      traceId: TRACE_ID,
      parentSpanId: CLIENT_SPAN_ID,
      status: { code: ERROR, message: 'GRAPHQL_VALIDATION_FAILED' },
    });
  });

  it('make a graphql-sse operation a child of its request’s traceparent', async () => {
    const { stack, receiver } = await tracedStack({ listen: true });
    const response = await fetch(stack.url as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', traceparent: TRACEPARENT },
      body: JSON.stringify({
        query: print(InstancePageFullDetailsDocument),
        variables: { workflowName: WORKFLOW, first: 1 },
      }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await response.text()).toContain('event: complete');
    await stack.stop();

    const [operation, ...others] = byKind(receiver.spans, SERVER);
    expect(others).toEqual([]);
    expect(operation).toMatchObject({
      name: 'query InstancePageFullDetails',
      traceId: TRACE_ID,
      parentSpanId: CLIENT_SPAN_ID,
    });
    const upstream = byKind(receiver.spans, CLIENT);
    expect(upstream).toHaveLength(2);
    expect(upstream.every((s) => s.parentSpanId === operation?.spanId)).toBe(true);
  });
});

describe('without an OTLP endpoint', () => {
  it('tracing is off: nothing is exported and no traceparent goes upstream, not even the client’s', async () => {
    const receiver = await startOtlpReceiver();
    // Every other OTEL_* variable set: only an endpoint turns tracing on, and OTEL_SDK_DISABLED turns it off.
    expect(loadConfig({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }).tracing.enabled).toBe(false);
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true' }).tracing.enabled).toBe(
      false,
    );
    const upstreamHeaders: IncomingHttpHeaders[] = [];
    const stack = await startStack({
      interceptUpstream: ({ headers }) => {
        upstreamHeaders.push(headers);
        return 'forward';
      },
    });
    expectData(
      await stack.graphql(
        InstancePageFullDetailsDocument,
        { workflowName: WORKFLOW, first: 2 },
        { traceparent: TRACEPARENT, tracestate: 'vendor=value' },
      ),
    );
    await stack.stop();
    expect(upstreamHeaders.length).toBeGreaterThan(0);
    expect(upstreamHeaders.filter((h) => h.traceparent !== undefined || h.tracestate !== undefined)).toEqual([]);
    expect(receiver.requests).toEqual([]);
  });
});

describe('OTEL_* variables at start-up', () => {
  it('refuse a malformed endpoint, a gRPC protocol and an unknown sampler, naming the variable', () => {
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
    expect(() =>
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    ).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL=grpc/);
    expect(() =>
      loadConfig({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces',
        OTEL_TRACES_SAMPLER: 'sometimes',
      }),
    ).toThrow(/OTEL_TRACES_SAMPLER/);
    expect(() =>
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '2',
      }),
    ).toThrow(/OTEL_TRACES_SAMPLER_ARG/);
  });

  it('main exports the spans of a local-mode server when it is told to stop (SIGTERM)', async () => {
    const receiver = await startOtlpReceiver();
    const server = spawnEntry(
      'src/main.ts',
      {
        PORT: '0',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_SERVICE_NAME: 'wfgql-under-test',
        LOG_LEVEL: 'warn',
      },
      { importTsx: true },
    );
    const [, url] = await server.waitForLine(/at (http:\/\/\S+\/graphql)/);
    const response = await fetch(url as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: TRACEPARENT },
      body: JSON.stringify({ query: 'query Names { workflows(first: 3) { nodes { name } } }' }),
    });
    expect(response.status).toBe(200);
    server.kill('SIGTERM');
    expect(await server.exited()).toEqual({ code: 0, signal: null });

    const [operation, ...others] = byKind(receiver.spans, SERVER);
    expect(others).toEqual([]);
    expect(operation).toMatchObject({
      name: 'query Names',
      traceId: TRACE_ID,
      parentSpanId: CLIENT_SPAN_ID,
      resource: { 'service.name': 'wfgql-under-test' },
    });
    const upstream = byKind(receiver.spans, CLIENT);
    expect(upstream.map((s) => s.name)).toEqual(['GET /workflows']);
    expect(upstream[0]?.parentSpanId).toBe(operation?.spanId);
  });
});

describe('the SDK’s own diagnostics', () => {
  it('reach the log as structured lines when the collector cannot be reached, without its credentials', async () => {
    // A loopback port nothing listens on: every export fails at once with ECONNREFUSED.
    const port = await refusedPort();
    const secret = 'collector-key-0123456789';
    const server = spawnEntry(
      'src/main.ts',
      {
        PORT: '0',
        LOG_FORMAT: 'json',
        LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_HEADERS: `x-collector-key=${secret},authorization=Basic%20${secret}`,
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      },
      { importTsx: true },
    );
    const [, url] = await server.waitForLine(/at (http:\/\/\S+\/graphql)/);
    const response = await fetch(url as string, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(200);
    await server.waitForLine(/"component":"opentelemetry"/, { stream: 'stderr' });
    server.kill('SIGTERM');
    expect(await server.exited()).toEqual({ code: 0, signal: null });

    // Every line on stderr is a JSON log line: nothing of the SDK went to the console as it is.
    const lines = server
      .stderr()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const diagnostics = lines.filter((line) => line.component === 'opentelemetry');
    expect(diagnostics[0]).toMatchObject({
      level: expect.stringMatching(/^(warn|error)$/),
      msg: expect.stringContaining('ECONNREFUSED'),
      err: expect.objectContaining({ code: 'ECONNREFUSED' }),
    });
    expect(server.stderr()).not.toContain(secret);
    expect(server.stdout()).not.toContain(secret);
  });
});

afterEach(() => {
  // The SDK reads process.env when it starts: a failed test must not leave an endpoint for the next one.
  expect(process.env.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
});
