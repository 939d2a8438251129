import { request } from 'node:http';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createConfig } from '../../src/config.js';

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

/**
 * A raw connection that has sent the head of a chunked POST and no body yet: what it sends next, and when, is the
 * test's. `closed` resolves once the server closed the connection (a reset counts); `answer` is what it sent back.
 */
async function openChunkedPost(): Promise<{
  socket: Socket;
  closed: Promise<void>;
  isClosed(): boolean;
  answer(): string;
}> {
  const socket = connect(Number(url.port), '127.0.0.1');
  await once(socket, 'connect');
  let received = '';
  let isClosed = false;
  socket.setEncoding('utf8').on('data', (text: string) => (received += text));
  // Writes after the server's close fail with EPIPE or ECONNRESET: that is the expected end.
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void closed.then(() => (isClosed = true));
  socket.write(
    `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${url.port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
  );
  return { socket, closed, isClosed: () => isClosed, answer: () => received };
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
    let sent = 0;
    while (sent < offered && !attacker.isClosed()) {
      sent += 1;
      // Not events.once: it rejects on the socket's 'error', the EPIPE of a write after the server's close.
      if (!attacker.socket.write(piece))
        await Promise.race([new Promise((r) => attacker.socket.once('drain', r)), attacker.closed]);
    }
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
