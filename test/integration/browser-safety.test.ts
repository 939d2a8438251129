import { once } from 'node:events';
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ErrorCode } from '../../src/errors/codes.js';
import { createInstance, freshId } from '../helpers/instances.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * The attacker's side of src/transport/browser-safety.ts: requests shaped as a page on another site can send
 * them (forms, no-cors fetches, EventSource, WebSockets, a rebound DNS name), against the real gateway and
 * emulator on loopback. Each refused mutation is checked where it would have landed: the instance's status in
 * the emulator, and the emulator's count of status changes.
 */

const WF = 'order-fulfillment';
const FOREIGN_ORIGIN = 'https://evil.example';
const LOOPBACK_ORIGIN = 'http://localhost:5173';

let stack: Stack;
let base: URL;

beforeAll(async () => {
  // The manual clock keeps every instance where it is: an unchanged status means nothing acted on it.
  stack = await startStack({ listen: true });
  base = new URL(stack.url as string);
});
afterAll(() => stack.stop());
beforeEach(() => stack.resetCalls());

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One HTTP request with exactly these headers (Node adds only Host, unless `host` is given, and Connection). */
function send(
  method: string,
  path: string,
  { headers = {}, body }: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sized = body === undefined ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers };
    const req = request(new URL(path, base), { method, headers: sized }, (res) => {
      let text = '';
      const answer = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
      // An event stream that was let through may never end: its first event is answer enough.
      const streaming = res.headers['content-type']?.startsWith('text/event-stream') === true;
      res.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
        if (streaming && /\n\n./s.test(text)) {
          answer();
          res.destroy();
        }
      });
      res.on('end', answer);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const terminate = (id: string) =>
  `mutation { terminateInstance(input: { workflowName: "${WF}", instanceId: "${id}" }) { __typename } }`;
const pause = (id: string) =>
  `mutation { pauseInstance(input: { workflowName: "${WF}", instanceId: "${id}" }) { __typename } }`;
const READ_QUERY = `{ workflow(name: "${WF}") { name instances(first: 5) { nodes { instanceId params } } } }`;
const SUBSCRIPTION = (id: string) =>
  `subscription { instanceStatusChanged(workflowName: "${WF}", instanceId: "${id}") { status } }`;

const statusOf = async (id: string): Promise<string> =>
  (await stack.rest<{ status: string }>('GET', `/${WF}/instances/${id}`)).status;

/** A fresh instance that a terminate or pause would change, and its status before the attack. */
async function target(): Promise<{ id: string; before: string }> {
  const id = freshId('csrf');
  await createInstance(stack, WF, id);
  const before = await statusOf(id);
  expect(['queued', 'running', 'waiting']).toContain(before);
  stack.resetCalls();
  return { id, before };
}

/** The mutation did not happen: the status is unchanged and no status change reached the emulator. */
async function expectUntouched({ id, before }: { id: string; before: string }): Promise<void> {
  expect(await statusOf(id)).toBe(before);
  expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(0);
}

/** A refusal with this status and code, and no data; `shape` names the request in a failure's diff. */
function expectRefused(answer: Answer, status: number, code: ErrorCode, shape = ''): void {
  const body = JSON.parse(answer.body) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
  expect({
    shape,
    status: answer.status,
    type: answer.headers['content-type'],
    data: body.data,
    codes: body.errors?.map((e) => e.extensions?.code),
  }).toEqual({ shape, status, type: 'application/json', data: undefined, codes: [code] });
}

/** The request bodies a page can POST to any site without a CORS preflight, each carrying `query`. */
async function unpreflightedBodies(
  query: string,
): Promise<{ name: string; contentType: string | undefined; body: string | Buffer }[]> {
  const json = JSON.stringify({ query });
  const form = new FormData();
  // The GraphQL multipart request format (file uploads), which yoga reads from any multipart form.
  form.set('operations', json);
  form.set('map', '{}');
  const multipart = new Request('http://127.0.0.1/', { method: 'POST', body: form });
  return [
    {
      name: 'an HTML form (application/x-www-form-urlencoded)',
      contentType: 'application/x-www-form-urlencoded',
      body: new URLSearchParams({ query }).toString(),
    },
    {
      name: 'a multipart form',
      contentType: multipart.headers.get('content-type') ?? undefined,
      body: Buffer.from(await multipart.arrayBuffer()),
    },
    { name: 'text/plain', contentType: 'text/plain', body: json },
    { name: 'text/plain; charset=application/json', contentType: 'text/plain; charset=application/json', body: json },
    { name: 'a body without a content type', contentType: undefined, body: json },
  ];
}

describe('CSRF: simple POSTs a foreign page can send', () => {
  for (const path of ['/graphql', '/graphql/stream']) {
    // /graphql/stream serves graphql-sse's distinct connections too (Accept is a header any page may set).
    const accept = path === '/graphql' ? 'application/graphql-response+json' : 'text/event-stream';

    it(`refuses every unpreflighted body on ${path} with 415, and the mutation does not happen`, async () => {
      for (const mutation of [terminate, pause]) {
        const instance = await target();
        for (const { name, contentType, body } of await unpreflightedBodies(mutation(instance.id))) {
          for (const origin of [undefined, FOREIGN_ORIGIN, LOOPBACK_ORIGIN]) {
            const headers: Record<string, string> = { accept };
            if (contentType !== undefined) headers['content-type'] = contentType;
            if (origin !== undefined) headers.origin = origin;
            const answer = await send('POST', path, { headers, body });
            const shape = `${name} from ${origin ?? 'no origin'}`;
            // A foreign page is refused for where it comes from, before its body matters.
            if (origin === FOREIGN_ORIGIN) expectRefused(answer, 403, 'ORIGIN_NOT_ALLOWED', shape);
            else expectRefused(answer, 415, 'UNSUPPORTED_CONTENT_TYPE', shape);
          }
        }
        await expectUntouched(instance);
      }
    });
  }

  it('names the content type and the one to use in its error', async () => {
    const answer = await send('POST', '/graphql', {
      headers: { 'content-type': 'text/plain; charset=application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(JSON.parse(answer.body)).toEqual({
      errors: [
        {
          message:
            'POST requests need Content-Type: application/json (got "text/plain; charset=application/json"); form and plain-text bodies are refused because any web page can send them here.',
          extensions: { code: 'UNSUPPORTED_CONTENT_TYPE' },
        },
      ],
    });
  });
});

describe('CSRF: mutations over GET', () => {
  it('are refused with 405 on /graphql and /graphql/stream, and do not happen', async () => {
    const instance = await target();
    const query = encodeURIComponent(terminate(instance.id));
    const onGraphql = await send('GET', `/graphql?query=${query}`, { headers: { accept: 'application/json' } });
    const onStream = await send('GET', `/graphql/stream?query=${query}`, { headers: { accept: 'text/event-stream' } });
    // graphql-sse would answer a 500 here if src/transport/sse.ts did not turn yoga's error into its answer.
    for (const answer of [onGraphql, onStream]) {
      expect({ status: answer.status, allow: answer.headers.allow, body: JSON.parse(answer.body) as unknown }).toEqual({
        status: 405,
        allow: 'POST',
        body: {
          errors: [
            {
              message: 'Can only perform a mutation operation from a POST request.',
              extensions: { code: 'BAD_REQUEST' },
            },
          ],
        },
      });
    }
    await expectUntouched(instance);
  });
});

describe('DNS rebinding: a Host that ALLOWED_HOSTS does not list', () => {
  it('is refused with 421 on every GraphQL route, even from a page that is "same-origin" with it', async () => {
    const instance = await target();
    const host = `rebound.evil.example:${base.port}`;
    const json = JSON.stringify({ query: terminate(instance.id) });
    for (const origin of [undefined, `http://${host}`]) {
      const headers: Record<string, string> = { host, 'content-type': 'application/json' };
      if (origin !== undefined) headers.origin = origin;
      for (const path of ['/graphql', '/graphql/stream']) {
        expectRefused(await send('POST', path, { headers, body: json }), 421, 'HOST_NOT_ALLOWED');
      }
      const read = await send('GET', `/graphql?query=${encodeURIComponent(READ_QUERY)}`, { headers: { host } });
      expectRefused(read, 421, 'HOST_NOT_ALLOWED');
    }
    await expectUntouched(instance);
    expect(stack.upstreamCalls()).toBe(1); // the status read of expectUntouched
  });

  it('answers /healthz whatever the Host, since load balancers probe with an IP address', async () => {
    const answer = await send('GET', '/healthz', { headers: { host: `10.1.2.3:${base.port}` } });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ status: 'ok', mode: 'local' });
  });
});

/** The outcome of a WebSocket handshake: the socket opened, or the HTTP answer that refused it. */
async function upgrade(options: WebSocket.ClientOptions): Promise<'open' | Answer> {
  const socket = new WebSocket(base.href.replace(/^http/, 'ws'), 'graphql-transport-ws', options);
  const outcome = await Promise.race([
    once(socket, 'open').then(() => 'open' as const),
    once(socket, 'unexpected-response').then(async ([, res]) => {
      const response = res as IncomingMessage;
      let body = '';
      for await (const chunk of response) body += String(chunk);
      return { status: response.statusCode ?? 0, headers: response.headers, body };
    }),
    once(socket, 'error').then(([error]) => Promise.reject(error as Error)),
  ]);
  if (outcome === 'open') socket.close();
  else socket.terminate();
  return outcome;
}

describe('cross-site WebSocket hijacking', () => {
  it('refuses an upgrade from a foreign page with 403 and no socket', async () => {
    expectRefused((await upgrade({ origin: FOREIGN_ORIGIN })) as Answer, 403, 'ORIGIN_NOT_ALLOWED');
    expectRefused((await upgrade({ origin: 'null' })) as Answer, 403, 'ORIGIN_NOT_ALLOWED');
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('refuses an upgrade with a foreign Host with 421', async () => {
    const answer = await upgrade({ headers: { host: `rebound.evil.example:${base.port}` } });
    expectRefused(answer as Answer, 421, 'HOST_NOT_ALLOWED');
  });

  it('opens sockets for loopback pages and for clients that send no Origin, and runs their operations', async () => {
    expect(await upgrade({ origin: LOOPBACK_ORIGIN })).toBe('open');
    for (const origin of [LOOPBACK_ORIGIN, undefined]) {
      class OriginSocket extends WebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols, origin === undefined ? {} : { origin });
        }
      }
      const client = createClient({
        url: base.href.replace(/^http/, 'ws'),
        webSocketImpl: OriginSocket,
        retryAttempts: 0,
      });
      try {
        const results = [];
        for await (const result of client.iterate({ query: '{ __typename }' })) results.push(result);
        expect(results).toEqual([{ data: { __typename: 'Query' } }]);
      } finally {
        await client.dispose();
      }
    }
  });
});

describe('SSE and GET from foreign pages', () => {
  it('refuses an EventSource or fetch with a foreign Origin before anything runs, returning no data', async () => {
    const instance = await target();
    const attempts = [
      `/graphql?query=${encodeURIComponent(SUBSCRIPTION(instance.id))}`,
      `/graphql/stream?query=${encodeURIComponent(SUBSCRIPTION(instance.id))}`,
      `/graphql?query=${encodeURIComponent(READ_QUERY)}`,
    ];
    for (const path of attempts) {
      for (const accept of ['text/event-stream', 'application/json']) {
        const answer = await send('GET', path, { headers: { origin: FOREIGN_ORIGIN, accept } });
        expectRefused(answer, 403, 'ORIGIN_NOT_ALLOWED');
        expect(answer.body).not.toContain(instance.id);
      }
    }
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('serves GET queries and SSE to loopback pages and to clients without an Origin', async () => {
    const instance = await target();
    for (const origin of [LOOPBACK_ORIGIN, undefined]) {
      const headers: Record<string, string> = origin === undefined ? {} : { origin };
      const read = await send('GET', `/graphql?query=${encodeURIComponent(READ_QUERY)}`, {
        headers: { ...headers, accept: 'application/json' },
      });
      expect(read.status).toBe(200);
      expect(read.body).toContain(instance.id);
      // A query over SSE streams its one result and completes, so the response ends.
      const sse = await send('GET', `/graphql?query=${encodeURIComponent('{ __typename }')}`, {
        headers: { ...headers, accept: 'text/event-stream' },
      });
      expect(sse.status).toBe(200);
      expect(sse.body).toContain('event: next\ndata: {"data":{"__typename":"Query"}}');
    }
  });
});

describe('what browser safety leaves working', () => {
  it('runs a JSON POST mutation from a loopback page or a client without an Origin', async () => {
    for (const origin of [LOOPBACK_ORIGIN, undefined]) {
      // The control of the refusals above: the same terminate, sent as JSON, does change the instance.
      const instance = await target();
      const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
      if (origin !== undefined) headers.origin = origin;
      const answer = await send('POST', '/graphql', {
        headers,
        body: JSON.stringify({ query: terminate(instance.id) }),
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({
        data: { terminateInstance: { __typename: 'TerminateInstancePayload' } },
      });
      expect(await statusOf(instance.id)).toBe('terminated');
      if (origin !== undefined) expect(answer.headers['access-control-allow-origin']).toBe(origin);
    }
  });

  it('answers a foreign CORS preflight without allowing it, as before', async () => {
    const answer = await send('OPTIONS', '/graphql', {
      headers: {
        origin: FOREIGN_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(answer.headers['access-control-allow-origin']).toBeUndefined();
  });
});
