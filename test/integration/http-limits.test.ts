import { request } from 'node:http';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { print } from 'graphql';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createApiKey, createApiKeyAuthenticator } from '../../src/auth/api-keys.js';
import { AuthenticationFailure } from '../../src/auth/principal.js';
import { createConfig } from '../../src/config.js';
import { InstanceStatusChangedDocument as STATUS } from '../generated/operations.js';
import { acknowledgedSocket } from '../helpers/live.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const LIMIT = 4096;
let app: App;
let url: URL;

beforeAll(async () => {
  // No upstream call happens in these tests: requests are refused before GraphQL sees them.
  app = createApp(createConfig({ logLevel: 'silent', maxRequestBytes: LIMIT }));
  url = new URL(await app.start(0, '127.0.0.1'));
});
afterAll(() => app.stop());

function post(body: string | string[], headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    for (const part of typeof body === 'string' ? [body] : body) req.write(part);
    req.end();
  });
}

const MiB = 1024 * 1024;

/** One chunk of a chunked body, framed. */
const chunk = (data: Buffer) =>
  Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);

/** What a raw connection received and whether the server closed it (a reset counts). */
interface RawConnection {
  socket: Socket;
  closed: Promise<void>;
  isClosed(): boolean;
  answer(): string;
}

/**
 * A raw connection to `target` that has sent the head of a POST and no body yet: what it sends next, and when, is
 * the test's. The body is chunked unless `headers` gives a Content-Length.
 */
async function openPost(target: URL, headers: Record<string, string> = {}): Promise<RawConnection> {
  const socket = connect(Number(target.port), '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  let isClosed = false;
  socket.setEncoding('utf8').on('data', (text: string) => (received += text));
  // Writes after the server's close fail with EPIPE or ECONNRESET: that is the expected end.
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void closed.then(() => (isClosed = true));
  const head = {
    host: `127.0.0.1:${target.port}`,
    'content-type': 'application/json',
    ...(headers['content-length'] === undefined ? { 'transfer-encoding': 'chunked' } : {}),
    ...headers,
  };
  const lines = Object.entries(head).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(`POST /graphql HTTP/1.1\r\n${lines.join('')}\r\n`);
  return { socket, closed, isClosed: () => isClosed, answer: () => received };
}

/** A raw connection to the app of this file that has sent the head of a chunked POST. */
const openChunkedPost = (): Promise<RawConnection> => openPost(url);

/**
 * Writes `piece` until the server closes the connection or `offered` pieces went out, and returns how many did:
 * what the kernel took from us is the most the server can have read.
 */
async function sendUntilClosed(connection: RawConnection, piece: Buffer, offered: number): Promise<number> {
  let sent = 0;
  while (sent < offered && !connection.isClosed()) {
    sent += 1;
    // Not events.once: it rejects on the socket's 'error', the EPIPE of a write after the server's close.
    if (!connection.socket.write(piece))
      await Promise.race([new Promise((r) => connection.socket.once('drain', r)), connection.closed]);
  }
  return sent;
}

/**
 * The status, headers (lower-case names) and JSON body of the one answer in `raw`, once it has arrived in full;
 * undefined until then.
 */
function parseAnswer(raw: string): { status: number; headers: Record<string, string>; body: unknown } | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const headers = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  );
  let body = raw.slice(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    let text = '';
    for (;;) {
      const sizeEnd = body.indexOf('\r\n');
      if (sizeEnd === -1) return undefined;
      const size = parseInt(body.slice(0, sizeEnd), 16);
      if (size === 0) break;
      if (body.length < sizeEnd + 2 + size) return undefined;
      text += body.slice(sizeEnd + 2, sizeEnd + 2 + size);
      body = body.slice(sizeEnd + 4 + size);
    }
    body = text;
  } else if (body.length < Number(headers['content-length'] ?? 0)) return undefined;
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) };
}

/** Waits for the answer on `connection`, and returns it. */
async function answerOf(connection: RawConnection): Promise<NonNullable<ReturnType<typeof parseAnswer>>> {
  await waitFor(() => parseAnswer(connection.answer()) !== undefined || connection.isClosed(), {
    message: 'an answer',
  });
  const answer = parseAnswer(connection.answer());
  if (!answer) throw new Error(`no complete answer before the connection closed: ${connection.answer()}`);
  return answer;
}

describe('HTTP request limits', () => {
  it('refuses a body larger than MAX_REQUEST_BYTES with 413 and a coded error', async () => {
    const query = JSON.stringify({ query: `{ __typename }`, variables: { pad: 'x'.repeat(5000) } });
    const response = await post(query, { 'content-length': String(Buffer.byteLength(query)) });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toEqual({
      errors: [
        {
          message: `The request body is ${Buffer.byteLength(query)} bytes; the limit is 4096 (MAX_REQUEST_BYTES).`,
          extensions: { code: 'REQUEST_TOO_LARGE' },
        },
      ],
    });
  });

  it('serves a chunked POST body of exactly MAX_REQUEST_BYTES (as reverse proxies send bodies)', async () => {
    const query = JSON.stringify({ query: '{ __typename }' });
    const body = query.padEnd(LIMIT, ' ');
    const response = await post([body.slice(0, 1000), body.slice(1000)], { 'transfer-encoding': 'chunked' });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ data: { __typename: 'Query' } });
  });

  it('serves fetch with a stream body (chunked), an empty chunk included', async () => {
    const parts = ['{"query":', '', '"{ __typename }"}'].map((part) => new TextEncoder().encode(part));
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        start(controller) {
          for (const part of parts) controller.enqueue(part);
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses a chunked body with 413 as soon as it crosses the limit, without waiting for its end', async () => {
    const attacker = await openChunkedPost();
    // One byte over the limit, and the body never ends: an answer can only come from counting as it arrives.
    attacker.socket.write(chunk(Buffer.alloc(LIMIT + 1, 'x')));
    await attacker.closed;
    expect(attacker.answer()).toMatch(/^HTTP\/1\.1 413 /);
    expect(attacker.answer()).toMatch(/^connection: close\r$/im);
    expect(JSON.parse(attacker.answer().split('\r\n\r\n')[1]!)).toEqual({
      errors: [
        {
          message: `The request body is more than ${LIMIT} bytes; the limit is ${LIMIT} (MAX_REQUEST_BYTES).`,
          extensions: { code: 'REQUEST_TOO_LARGE' },
        },
      ],
    });
  });

  it('cuts an endless chunked body off: 413, the connection closed, the rest never read', async () => {
    const attacker = await openChunkedPost();
    const piece = chunk(Buffer.alloc(64 * 1024, 'x'));
    // Bounded: 512 MiB if the server read on forever. What it reads, it may hold; what it never reads, it cannot.
    const offered = 8 * 1024;
    const sent = await sendUntilClosed(attacker, piece, offered);
    await attacker.closed;
    expect(attacker.answer()).toMatch(/^HTTP\/1\.1 413 /);
    expect(attacker.answer()).toContain('"code":"REQUEST_TOO_LARGE"');
    // What the kernel took from us: the limit, plus what loopback socket buffers absorb before the close.
    const acceptedMiB = attacker.socket.bytesWritten / MiB;
    expect(acceptedMiB).toBeLessThan(64);
    expect(sent).toBeLessThan(offered);
    // The server still answers.
    const query = JSON.stringify({ query: '{ __typename }' });
    expect((await post(query, { 'content-length': String(Buffer.byteLength(query)) })).status).toBe(200);
  });

  it('serves a body within the limit', async () => {
    const query = JSON.stringify({ query: '{ __typename }' });
    const response = await post(query, { 'content-length': String(Buffer.byteLength(query)) });
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('request bodies and authentication (AUTH_MODE=api-key)', () => {
  /** High enough that loopback socket buffers cannot hold a body of this size: what is sent must be read. */
  const AUTH_LIMIT = 32 * MiB;
  let authApp: App;
  let authUrl: URL;
  let key: string;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'http-limits-keys-'));
    const reader = createApiKey({ id: 'reader', scopes: ['workflows:read'] });
    key = reader.key;
    await writeFile(join(dir, 'keys.json'), JSON.stringify([reader.entry]));
    authApp = createApp(createConfig({ logLevel: 'silent', maxRequestBytes: AUTH_LIMIT }), {
      authenticator: await createApiKeyAuthenticator(join(dir, 'keys.json')),
    });
    authUrl = new URL(await authApp.start(0, '127.0.0.1'));
  });
  afterAll(async () => {
    await authApp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const piece = chunk(Buffer.alloc(64 * 1024, 'x'));

  it('refuses an unauthenticated chunked POST while its body is still open, and reads no more of it', async () => {
    const attacker = await openPost(authUrl);
    // The start of a body that never ends: the answer can only come before the body was read.
    attacker.socket.write(chunk(Buffer.from('{"query":"{ __typename }", "pad": "')));
    const answer = await answerOf(attacker);
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({
      errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })],
    });
    expect(answer.headers.connection).toBe('close');

    // The server closes the connection instead of reading on: 512 MiB offered, at most socket buffers taken.
    const offered = 8 * 1024;
    const sent = await sendUntilClosed(attacker, piece, offered);
    await attacker.closed;
    expect(sent).toBeLessThan(offered);
    expect(attacker.socket.bytesWritten / MiB).toBeLessThan(64);
  });

  it('does not drain the declared body of an unauthenticated POST either', async () => {
    const declared = AUTH_LIMIT - 1;
    const attacker = await openPost(authUrl, { 'content-length': String(declared) });
    attacker.socket.write(Buffer.alloc(64 * 1024, ' '));
    const answer = await answerOf(attacker);
    expect(answer.status).toBe(401);
    expect(answer.headers.connection).toBe('close');

    // Node would otherwise read the whole declared body to keep the connection for another request.
    const offered = declared / (64 * 1024);
    const sent = await sendUntilClosed(attacker, Buffer.alloc(64 * 1024, ' '), offered);
    await attacker.closed;
    expect(sent).toBeLessThan(offered);
  });

  it('serves an authenticated chunked POST and keeps its connection', async () => {
    const client = await openPost(authUrl, { authorization: `Bearer ${key}` });
    client.socket.write(chunk(Buffer.from('{"query":')));
    client.socket.write(chunk(Buffer.from('"{ __typename }"}')));
    client.socket.write('0\r\n\r\n');
    const answer = await answerOf(client);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: { __typename: 'Query' } });
    expect(answer.headers.connection).toBe('keep-alive');
    expect(client.isClosed()).toBe(false);
    client.socket.destroy();
  });

  it('refuses an authenticated chunked body with 413 once it crosses the limit', async () => {
    const client = await openPost(authUrl, { authorization: `Bearer ${key}` });
    const offered = (2 * AUTH_LIMIT) / (64 * 1024);
    const sent = await sendUntilClosed(client, piece, offered);
    await client.closed;
    expect(sent).toBeLessThan(offered);
    const answer = parseAnswer(client.answer());
    expect(answer?.status).toBe(413);
    expect(answer?.headers.connection).toBe('close');
    expect(answer?.body).toEqual({
      errors: [
        {
          message: `The request body is more than ${AUTH_LIMIT} bytes; the limit is ${AUTH_LIMIT} (MAX_REQUEST_BYTES).`,
          extensions: { code: 'REQUEST_TOO_LARGE' },
        },
      ],
    });
  });
});

describe('REQUEST_TIMEOUT_MS', () => {
  let stack: Stack;
  let slowUrl: URL;
  beforeAll(async () => {
    stack = await startStack({ listen: true, config: { requestTimeoutMs: 1000 }, emulator: { clock: 'real' } });
    slowUrl = new URL(stack.url as string);
  });
  afterAll(() => stack.stop());

  it.each<[string, Record<string, string>]>([
    ['a chunked body', {}],
    ['a body with a Content-Length', { 'content-length': '1000' }],
  ])('cuts off a client that stops in the middle of %s: 408, the connection closed', async (_kind, headers) => {
    const client = await openPost(slowUrl, headers);
    const part = '{"query":"{ __typename }"';
    client.socket.write(headers['content-length'] === undefined ? chunk(Buffer.from(part)) : part);
    const since = Date.now();
    await waitFor(() => client.isClosed(), { message: 'the server to close the connection', timeoutMs: 5000 });
    expect(Date.now() - since).toBeGreaterThanOrEqual(500);
    expect(parseAnswer(client.answer())).toEqual({
      status: 408,
      headers: expect.objectContaining({ connection: 'close' }),
      body: {
        errors: [
          {
            message: 'The request did not arrive in full within 1000 ms (REQUEST_TIMEOUT_MS).',
            extensions: { code: 'REQUEST_TIMEOUT' },
          },
        ],
      },
    });
    // The server still answers.
    const response = await fetch(slowUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('cuts off a client that stops in the middle of its headers', async () => {
    const socket = connect(Number(slowUrl.port), '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.setEncoding('utf8').on('data', (text: string) => (received += text));
    const closed = once(socket, 'close');
    socket.write(`POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${slowUrl.port}\r\nContent-Type: appl`);
    await closed;
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(received).toContain('"code":"REQUEST_TIMEOUT"');
  });

  it('leaves subscriptions open past it: a WebSocket and an event stream are not requests in progress', async () => {
    const socket = await acknowledgedSocket(slowUrl.href.replace('http:', 'ws:'));
    const abort = new AbortController();
    try {
      const stream = await fetch(slowUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        // Waiting for its payment: the stream stays open.
        body: JSON.stringify({
          query: print(STATUS),
          variables: { workflowName: 'order-fulfillment', instanceId: 'order-1004' },
        }),
        signal: abort.signal,
      });
      const events = stream.body?.getReader();
      expect((await events?.read())?.done).toBe(false);
      // Opened after both, and cut off at the deadline: once it is, the deadline has passed for both as well.
      const stalled = await openPost(slowUrl);
      await waitFor(() => stalled.isClosed(), { message: 'the stalled request to be cut off', timeoutMs: 5000 });
      expect(stalled.answer()).toMatch(/^HTTP\/1\.1 408 /);

      socket.socket.send(JSON.stringify({ type: 'ping' }));
      await socket.until((message) => message.type === 'pong');
      expect(socket.socket.readyState).toBe(WebSocket.OPEN);
      // The stream's subscription is still being served.
      expect(stack.app.live.stats().subscribers).toBe(1);
    } finally {
      abort.abort();
      socket.socket.close();
    }
  });
});

describe('WebSocket message limits', () => {
  it('closes a graphql-ws connection whose message exceeds MAX_REQUEST_BYTES with 1009', async () => {
    const socket = new WebSocket(url.href.replace('http:', 'ws:'), 'graphql-transport-ws');
    await once(socket, 'open');
    const closed = once(socket, 'close') as Promise<[number, Buffer]>;
    socket.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(5000) } }));
    const [code] = await closed;
    expect(code).toBe(1009);
  });
});

/** Sends a request whose target is `target` as given (not a path of `url`), and returns the status and body. */
function requestTarget(method: string, target: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: url.port, method, path: target }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('request targets', () => {
  it.each([
    ['OPTIONS', '*'],
    ['GET', 'http://127.0.0.1/graphql?query=%7B__typename%7D'],
  ])('answers %s %s with 400 BAD_REQUEST, no stack trace and no file path', async (method, target) => {
    const answer = await requestTarget(method, target);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({
      errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_REQUEST' }) })],
    });
    expect(answer.body).not.toMatch(/\bat \S+ \(|node_modules|\/src\//);
  });
});

describe('a client that leaves while its request is still being authenticated', () => {
  it('fails its unread body without taking the server down', async () => {
    // An authenticator that takes its time (a JWKS fetch, WebCrypto): the body is not read before it answers.
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    let authenticating = 0;
    const slowApp = createApp(createConfig({ logLevel: 'silent' }), {
      authenticator: {
        mode: 'jwt',
        async authenticate() {
          authenticating += 1;
          await released;
          throw new AuthenticationFailure('no credential');
        },
      },
    });
    const slowUrl = new URL(await slowApp.start(0, '127.0.0.1'));
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const client = await openPost(slowUrl);
      client.socket.write(chunk(Buffer.from('{"query":"{ __typename }", "pad": "')));
      await waitFor(() => authenticating === 1, { message: 'the authenticator to be called' });
      client.socket.destroy();
      await client.closed;
      // A request on a new connection after the close: the server has seen the first one go by then.
      const first = await fetch(new URL('/healthz', slowUrl));
      expect(first.status).toBe(200);
      release();
      const after = await fetch(new URL('/healthz', slowUrl));
      expect(after.status).toBe(200);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      release();
      await slowApp.stop();
    }
  });
});
