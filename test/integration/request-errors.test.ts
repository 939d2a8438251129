import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acknowledgedSocket } from '../helpers/live.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
let url: URL;

beforeAll(async () => {
  // As in production: masked errors carry no details (the test runner's NODE_ENV=test would add them).
  stack = await startStack({ listen: true, config: { production: true, exposeErrorDetails: false } });
  url = new URL(stack.url as string);
});
afterAll(() => stack.stop());

interface Answer {
  readonly status: number;
  readonly body: string;
}

function send(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const length = body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    const req = request(new URL(path, url), { method, headers: { ...length, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const JSON_POST = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
const TYPENAME = encodeURIComponent('{ __typename }');
/** `{"a":{"a":…1…}}`, 100,000 levels: JSON.parse reads it, JSON.stringify overflows the stack on it. */
const DEEP_JSON = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
const CREATE =
  'mutation ($p: JSON) { createInstance(input: { workflowName: \\"order-fulfillment\\", params: $p }) { __typename } }';

const cases: [
  name: string,
  method: string,
  path: string,
  body: string | undefined,
  headers: Record<string, string>,
  status: number,
  code: string,
][] = [
  [
    'a variable that does not coerce',
    'POST',
    '/graphql',
    JSON.stringify({ query: 'query ($n: Int!) { workflows(first: $n) { totalCount } }', variables: { n: 'x' } }),
    JSON_POST,
    400,
    'BAD_USER_INPUT',
  ],
  [
    'a variable with a default given as null where a non-null value is required (@include(if:))',
    'POST',
    '/graphql',
    JSON.stringify({
      query: 'query ($v: Boolean = true) { workflows(first: 1) { nodes { name @include(if: $v) } } }',
      variables: { v: null },
    }),
    JSON_POST,
    400,
    'BAD_USER_INPUT',
  ],
  [
    'a required variable left out',
    'POST',
    '/graphql',
    JSON.stringify({ query: 'query ($n: Int!) { workflows(first: $n) { totalCount } }' }),
    JSON_POST,
    400,
    'BAD_USER_INPUT',
  ],
  [
    'variables nested 100,000 levels deep',
    'POST',
    '/graphql',
    `{"query":"${CREATE}","variables":{"p":${DEEP_JSON}}}`,
    JSON_POST,
    400,
    'BAD_USER_INPUT',
  ],
  [
    'GET variables that are not JSON',
    'GET',
    `/graphql?query=${TYPENAME}&variables=%7B`,
    undefined,
    {},
    400,
    'BAD_REQUEST',
  ],
  [
    'GET extensions that are not JSON',
    'GET',
    `/graphql?query=${TYPENAME}&extensions=%7B`,
    undefined,
    {},
    400,
    'BAD_REQUEST',
  ],
  ['an XML body', 'POST', '/graphql', '<q/>', { 'content-type': 'application/xml' }, 415, 'UNSUPPORTED_CONTENT_TYPE'],
  [
    'a multipart/mixed body',
    'POST',
    '/graphql',
    'x',
    { 'content-type': 'multipart/mixed; boundary=x' },
    415,
    'UNSUPPORTED_CONTENT_TYPE',
  ],
  ['a path that is not served', 'GET', '/nope', undefined, {}, 404, 'BAD_REQUEST'],
  ['a path that does not decode', 'GET', `/graphql%E0%A4%A?query=${TYPENAME}`, undefined, {}, 404, 'BAD_REQUEST'],
  [
    'an Accept header that cannot be served',
    'POST',
    '/graphql',
    JSON.stringify({ query: '{ __typename }' }),
    { 'content-type': 'application/json', accept: 'application/x-unknown' },
    406,
    'BAD_REQUEST',
  ],
];

describe('client mistakes over HTTP', () => {
  it('answers a body that is not JSON with BAD_REQUEST, without sending the body back', async () => {
    // JSON.parse's message quotes the text it failed on; yoga passed it on as `originalError`.
    const body = `{"query": "{ __typename }", "token": "${'x'.repeat(5000)}-echoed-secret" oops`;
    const answer = await send('POST', '/graphql', body, JSON_POST);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({
      errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_REQUEST' } }],
    });
    expect(answer.body).not.toContain('echoed-secret');
  });

  it.each(cases)(
    'answers %s with a coded 4xx, no stack and no path',
    async (_, method, path, body, headers, status, code) => {
      const answer = await send(method, path, body, headers);
      expect(answer.status).toBe(status);
      const parsed = JSON.parse(answer.body) as { errors: { extensions?: { code?: string } }[] };
      expect(parsed.errors.map((e) => e.extensions?.code)).toEqual(parsed.errors.map(() => code));
      expect(answer.body).not.toMatch(/\bat \S+ \(|node_modules|\/src\/|\.ts:\d/);
    },
  );
});

/** Writes `raw` to a new TCP connection and reads until the server closes it. */
async function rawExchange(raw: string): Promise<string> {
  const socket = connect(Number(url.port), '127.0.0.1');
  let text = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(raw);
  await once(socket, 'close');
  return text;
}

describe("requests that Node's HTTP parser refuses", () => {
  const body = '{"query":"{ __typename }"}';
  it.each([
    [
      'two different Content-Lengths',
      `POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n${body}`,
      400,
    ],
    ['a request line in lower case', 'get /graphql http/1.1\r\nHost: localhost\r\n\r\n', 400],
    ['a 64 KiB header', `GET /graphql HTTP/1.1\r\nHost: localhost\r\nX-Pad: ${'x'.repeat(65_536)}\r\n\r\n`, 431],
  ])('answers %s with a coded JSON body', async (_, raw, status) => {
    const answer = await rawExchange(raw);
    expect(answer.split('\r\n', 1)[0]).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
    const json = answer.slice(answer.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(json)).toEqual({ errors: [expect.objectContaining({ extensions: { code: 'BAD_REQUEST' } })] });
  });
});

describe('client mistakes over graphql-ws', () => {
  it('answers variables that do not coerce with BAD_USER_INPUT', async () => {
    const { socket, messages, until } = await acknowledgedSocket(url.href);
    try {
      const query = 'query ($n: Int!) { workflows(first: $n) { totalCount } }';
      socket.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query, variables: { n: 'x' } } }));
      await until((m) => m.id === '1' && m.type === 'complete');
      expect(messages.find((m) => m.id === '1' && m.type === 'next')?.payload).toMatchObject({
        errors: [{ extensions: { code: 'BAD_USER_INPUT' } }],
      });
    } finally {
      socket.close();
    }
  });
});

describe('ids on the way upstream', () => {
  it('percent-encodes every path segment, the `*` encodeURIComponent leaves alone included', async () => {
    const recording = await startStack({ recordUrls: true });
    try {
      await recording.graphql('{ instance(workflowName: "nightly-report", instanceId: "a b/c*d#e,f") { instanceId } }');
      expect(recording.sentUrls).toEqual([
        expect.stringMatching(
          /^GET \/accounts\/\w+\/workflows\/nightly-report\/instances\/a%20b%2Fc%2Ad%23e%2Cf(\?|$)/,
        ),
      ]);
    } finally {
      await recording.stop();
    }
  });
});
