import { request } from 'node:http';
import { once } from 'node:events';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createConfig } from '../../src/config.js';

let app: App;
let url: URL;

beforeAll(async () => {
  // No upstream call happens in these tests: requests are refused before GraphQL sees them.
  app = createApp(createConfig({ logLevel: 'silent', maxRequestBytes: 4096 }));
  url = new URL(await app.start(0, '127.0.0.1'));
});
afterAll(() => app.stop());

function post(body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
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

  it('refuses a POST without Content-Length (chunked) with 411', async () => {
    const response = await post(JSON.stringify({ query: '{ __typename }' }), { 'transfer-encoding': 'chunked' });
    expect(response.status).toBe(411);
    expect(JSON.parse(response.body).errors[0].extensions.code).toBe('LENGTH_REQUIRED');
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
