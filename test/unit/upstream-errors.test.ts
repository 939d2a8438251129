import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createUpstream } from '../../src/upstream/client.js';
import {
  AbortedError,
  AlreadyExistsError,
  AuthenticationError,
  BadRequestError,
  UpstreamInvalidTransitionError,
  NotFoundError,
  UpstreamRateLimitedError,
  TimeoutError,
  UnavailableError,
  UpstreamError,
  UpstreamProtocolError,
} from '../../src/upstream/errors.js';
import { MAX_BODY_BYTES } from '../../src/upstream/transport.js';
import type { WorkflowsApi } from '../../src/upstream/types.js';
import { waitFor } from '../helpers/wait.js';
import {
  fail,
  failureOf,
  ok,
  reply,
  startFakeUpstream,
  TOKEN,
  upstreamConfig,
  type FakeUpstreamHandler,
} from '../helpers/fake-upstream.js';

async function clientAnswering(handler: FakeUpstreamHandler, overrides = {}) {
  const fake = await startFakeUpstream(handler);
  const upstream = createUpstream(
    upstreamConfig(fake.url, { headersTimeoutMs: 300, bodyTimeoutMs: 300, ...overrides }),
  );
  return { fake, upstream, api: upstream.default };
}

const getWorkflow = (api: WorkflowsApi) => api.getWorkflow('orders');
const getInstance = (api: WorkflowsApi) => api.getInstance('orders', 'i-1');
const pause = (api: WorkflowsApi) => api.changeInstanceStatus('orders', 'i-1', { action: 'pause' });

describe('upstream error mapping', () => {
  it.each([
    [
      '404 with code 10200',
      404,
      fail({ code: 10200, message: 'workflows.api.error.workflow.not_found' }),
      getInstance,
      NotFoundError,
      'NOT_FOUND',
      { resource: 'workflow' },
    ],
    [
      '404 with code 10400',
      404,
      fail({ code: 10400, message: 'workflows.api.error.instance.not_found' }),
      getInstance,
      NotFoundError,
      'NOT_FOUND',
      { resource: 'instance' },
    ],
    ['a bare 404 on a workflow route', 404, {}, getWorkflow, NotFoundError, 'NOT_FOUND', { resource: 'workflow' }],
    ['a bare 404 on an instance route', 404, {}, getInstance, NotFoundError, 'NOT_FOUND', { resource: 'unknown' }],
    [
      'code 10405',
      409,
      fail({ code: 10405, message: 'workflows.api.error.instance.already_exists' }),
      getInstance,
      AlreadyExistsError,
      'ALREADY_EXISTS',
      {},
    ],
    [
      'a 409 on a status change',
      409,
      fail({ code: 10001, message: 'conflict' }),
      pause,
      UpstreamInvalidTransitionError,
      'INVALID_TRANSITION',
      {},
    ],
    [
      'a 400 instance.cannot_terminate',
      400,
      fail({
        code: 10001,
        message: '(instance.cannot_terminate) Cannot terminate instance since its on a finite state',
      }),
      pause,
      UpstreamInvalidTransitionError,
      'INVALID_TRANSITION',
      {},
    ],
    [
      'a 400',
      400,
      fail({ code: 10021, message: 'invalid instance_id' }),
      getInstance,
      BadRequestError,
      'BAD_REQUEST',
      {},
    ],
    ['a 422', 422, fail({ code: 10021, message: 'unprocessable' }), getInstance, BadRequestError, 'BAD_REQUEST', {}],
    [
      'a 401',
      401,
      fail({ code: 10000, message: 'Authentication error' }),
      getInstance,
      AuthenticationError,
      'AUTHENTICATION_FAILED',
      {},
    ],
    ['a 403', 403, {}, getInstance, AuthenticationError, 'AUTHENTICATION_FAILED', {}],
    [
      'a 429',
      429,
      fail({ code: 971, message: 'rate limited' }),
      getInstance,
      UpstreamRateLimitedError,
      'RATE_LIMITED',
      { source: 'upstream' },
    ],
    [
      'a 503',
      503,
      fail({ code: 10001, message: 'workflows.api.error.internal_server' }),
      getInstance,
      UnavailableError,
      'UNAVAILABLE',
      { retryable: true },
    ],
    ['a 418', 418, {}, getInstance, UpstreamError, 'UPSTREAM_ERROR', {}],
  ] as const)('maps %s to its class and code', async (_what, status, body, call, kind, code, extra) => {
    const { upstream, api } = await clientAnswering((_req, res) =>
      reply(res, status, body, { 'cf-ray': '8a1b2c3d4e5f-SJC' }),
    );
    const error = await failureOf(call(api));
    expect(error).toBeInstanceOf(kind);
    expect(error).toMatchObject({ code, status, cfRay: '8a1b2c3d4e5f-SJC', ...extra });
    await upstream.close();
  });

  it('judges the envelope by success: a 200 with success:false is an error carrying its Cloudflare codes', async () => {
    const body = {
      success: false,
      errors: [{ code: 10001, message: 'workflows.api.error.internal_server' }],
      result: { status: 'running' },
    };
    const { upstream, api } = await clientAnswering((_req, res) => reply(res, 200, body));
    const error = await failureOf(getInstance(api));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.errors).toEqual([{ code: 10001, message: 'workflows.api.error.internal_server' }]);
    expect(error.message).toBe(
      'GET /workflows/{name}/instances/{id} failed with HTTP 200: workflows.api.error.internal_server [10001]',
    );
    await upstream.close();
  });

  it('maps a 200 with success:false and an authentication code to AuthenticationError', async () => {
    const { upstream, api } = await clientAnswering((_req, res) =>
      reply(res, 200, fail({ code: 9106, message: 'Authentication failed' })),
    );
    expect(await failureOf(getInstance(api))).toBeInstanceOf(AuthenticationError);
    await upstream.close();
  });

  it('reports malformed JSON as a protocol error', async () => {
    const { upstream, api } = await clientAnswering((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"success": true, "result": {');
    });
    const error = await failureOf(getInstance(api));
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error.code).toBe('PROTOCOL_ERROR');
    expect(error.message).toContain('not JSON');
    await upstream.close();
  });

  it('reports a wrong shape as a protocol error naming the field', async () => {
    const { upstream, api } = await clientAnswering((_req, res) =>
      reply(res, 200, ok({ status: 'running', versionId: 'v', queued: 'yesterday-ish', steps: [] })),
    );
    const error = await failureOf(getInstance(api));
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error.message).toContain('result.queued: expected a date-time string');
    await upstream.close();
  });

  it('reports an envelope without success, and an unknown status, as protocol errors', async () => {
    let body: unknown = { result: {} };
    const { upstream, api } = await clientAnswering((_req, res) => reply(res, 200, body));
    expect((await failureOf(getInstance(api))).message).toContain('body.success: expected a boolean');
    body = ok({ status: 'sleepy', versionId: 'v', queued: '2026-01-01T00:00:00Z' });
    expect((await failureOf(getInstance(api))).message).toContain('result.status: expected one of queued');
    await upstream.close();
  });

  it('reports a body cut off before its announced length as a protocol error', async () => {
    const { upstream, api } = await clientAnswering((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"success":true,');
      setImmediate(() => res.socket?.destroy());
    });
    const error = await failureOf(getInstance(api));
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error.message).toContain('cut off');
    await upstream.close();
  });

  it('refuses a body larger than MAX_BODY_BYTES as a protocol error instead of buffering it', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    const { upstream, api } = await clientAnswering(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        let sent = 0;
        // Streams until the client hangs up; a client that kept reading would make this test time out.
        const pump = () => {
          while (!res.destroyed && sent <= MAX_BODY_BYTES + chunk.length) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      },
      { bodyTimeoutMs: 5000 },
    );
    const error = await failureOf(getInstance(api));
    expect(error).toBeInstanceOf(UpstreamProtocolError);
    expect(error.message).toContain('too large');
    await upstream.close();
  });

  it.each([
    ['before the headers', false],
    ['in the middle of the body', true],
  ])('cancels the upstream request when its only caller aborts %s', async (_when, midBody) => {
    let closed = false;
    let answering = false;
    const { fake, upstream, api } = await clientAnswering(
      (_req, res) => {
        res.socket?.once('close', () => (closed = true));
        if (!midBody) return;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"success":true,', () => (answering = true));
      },
      { headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000 },
    );
    const controller = new AbortController();
    const call = api.getInstance('orders', 'i-1', {}, { signal: controller.signal });
    await waitFor(() => (midBody ? answering : fake.requests.length > 0), { message: 'the request in flight' });
    controller.abort();
    expect(await failureOf(call)).toBeInstanceOf(AbortedError);
    await waitFor(() => closed, { message: 'the upstream connection closed' });
    await upstream.close();
  });

  it('classifies a 502 with an HTML body by its status alone', async () => {
    const { upstream, api } = await clientAnswering((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad gateway</html>');
    });
    const error = await failureOf(getInstance(api));
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).not.toContain('html');
    await upstream.close();
  });

  it('refuses bad arguments with a BadRequestError before calling upstream', async () => {
    const { fake, upstream, api } = await clientAnswering((_req, res) => reply(res, 200, ok(null)));
    await expect(api.createInstances('orders', [])).rejects.toThrow(BadRequestError);
    await expect(api.getInstance('orders', '')).rejects.toThrow('instanceId must be a non-empty string');
    await expect(api.listInstances('orders', { page: 0 })).rejects.toThrow('page must be a positive integer');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(api.createInstance('orders', { params: circular })).rejects.toThrow('not JSON-serialisable');
    expect(fake.requests).toHaveLength(0);
    await upstream.close();
  });
});

describe('the API token', () => {
  function expectNoToken(error: unknown) {
    expect(error).toBeInstanceOf(UpstreamError);
    const e = error as UpstreamError;
    for (const text of [e.message, e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 20, showHidden: true })]) {
      expect(text).not.toContain(TOKEN);
    }
  }

  it('is sent as a bearer token', async () => {
    const { fake, upstream, api } = await clientAnswering((_req, res) => reply(res, 404, {}));
    await failureOf(getWorkflow(api));
    expect(fake.requests[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    await upstream.close();
  });

  it('never appears in an error, even when upstream echoes it', async () => {
    const { upstream, api } = await clientAnswering((req, res) =>
      reply(res, 400, fail({ code: 10001, message: `bad token ${req.headers.authorization ?? ''}` })),
    );
    const error = await failureOf(getInstance(api));
    expect(error.message).toContain('[REDACTED]');
    expectNoToken(error);
    await upstream.close();
  });

  it('never appears in transport errors or their causes', async () => {
    const { upstream, api } = await clientAnswering((_req, res) => res.socket?.destroy());
    const broken = await failureOf(api.createInstance('orders', { instanceId: 'x' }));
    expectNoToken(broken);
    expect(broken.cause).toBeInstanceOf(Error);
    await upstream.close();

    const silent = await clientAnswering(() => undefined, { headersTimeoutMs: 100 });
    const timeout = await failureOf(getInstance(silent.api));
    expect(timeout).toBeInstanceOf(TimeoutError);
    expectNoToken(timeout);
    await silent.upstream.close();
  });
});
