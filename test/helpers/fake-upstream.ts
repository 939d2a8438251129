import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll } from 'vitest';
import type { UpstreamConfig } from '../../src/config.js';
import { UpstreamError } from '../../src/upstream/errors.js';

/** One request as the fake upstream saw it. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query exactly as sent (still percent-encoded). */
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** Answers one request; a test may also hold the response, or destroy its socket. */
export type FakeUpstreamHandler = (req: RecordedRequest, res: ServerResponse) => void;

/** A loopback HTTP server standing in for the Cloudflare REST API. */
export interface FakeUpstream {
  /** Base URL to use as `baseUrl`. */
  readonly url: string;
  readonly requests: RecordedRequest[];
  setHandler(handler: FakeUpstreamHandler): void;
  stop(): Promise<void>;
}

const running = new Set<FakeUpstream>();
afterAll(async () => {
  await Promise.all([...running].map((s) => s.stop()));
});

/** Answers with a v4 envelope. */
export function reply(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function ok(result: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { success: true, errors: [], messages: [], result, ...extra };
}

export function fail(...errors: { code: number; message: string }[]): Record<string, unknown> {
  return { success: false, errors, messages: [], result: null };
}

/**
 * A loopback HTTP server whose answers each test scripts with `setHandler`; it records every request
 * (body included) before the handler runs, so a handler that destroys the socket still counts.
 */
export async function startFakeUpstream(
  handler: FakeUpstreamHandler = (_req, res) => reply(res, 200, ok(null)),
): Promise<FakeUpstream> {
  let current = handler;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      current(recorded, res);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  const fake: FakeUpstream = {
    url: `http://127.0.0.1:${port}/client/v4`,
    requests,
    setHandler(next) {
      current = next;
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        running.delete(fake);
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
  running.add(fake);
  return fake;
}

export const ACCOUNT = '0123456789abcdef0123456789abcdef';
export const TOKEN = 'tok-SECRET-7f3a9c1e5b2d4680';

/** A fast-failing upstream config for tests: no retries unless asked for. */
export function upstreamConfig(baseUrl: string, overrides: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return {
    baseUrl,
    accountId: ACCOUNT,
    apiToken: TOKEN,
    connectTimeoutMs: 2000,
    headersTimeoutMs: 5000,
    bodyTimeoutMs: 5000,
    maxRetries: 0,
    rateLimit: 1200,
    rateWindowS: 300,
    clientBudgetShare: 1,
    connections: 0,
    pipelining: 1,
    ...overrides,
  };
}

/** The error a call fails with; fails the test if the call succeeds or throws anything but an UpstreamError. */
export async function failureOf(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UpstreamError) return error;
    throw new Error(`expected an UpstreamError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected the call to fail');
}

/** A workflow as the REST API sends it (snake_case), named `orders` unless overridden. */
export function wireWorkflow(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'wf-1',
    name: 'orders',
    class_name: 'OrdersWorkflow',
    script_name: 'orders-worker',
    created_on: '2026-01-01T00:00:00Z',
    modified_on: '2026-01-01T00:00:00Z',
    triggered_on: null,
    instances: {},
    ...overrides,
  };
}

/** A running instance's details as the REST API sends them, with an empty step log, unless overridden. */
export function wireInstanceDetails(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    status: 'running',
    params: {},
    trigger: { source: 'api' },
    versionId: 'v1',
    queued: '2026-01-01T00:00:00Z',
    start: null,
    end: null,
    success: null,
    output: null,
    error: null,
    rollback: null,
    step_count: 0,
    steps: [],
    ...overrides,
  };
}
