import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createApiKey, createApiKeyAuthenticator } from '../../src/auth/api-keys.js';
import type { Authenticator } from '../../src/auth/principal.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * src/transport/fast-path.ts answers JSON POSTs without Yoga's generic request handling; its answers must be
 * Yoga's. Two gateways on one emulator (manual clock: nothing moves between them), one with HTTP_FAST_PATH=true
 * and one with false, get the same requests; status, headers and bodies must match.
 */

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function send(url: string, body: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Headers that differ between any two answers: the date, and the request id each server makes up. */
const VARYING = new Set(['date', 'x-request-id']);

function comparable(answer: Answer, requestId: string | undefined) {
  const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !VARYING.has(name)));
  // A request id the client gave is echoed by both: then it must be the same.
  const echoed = requestId === undefined ? typeof answer.headers['x-request-id'] : answer.headers['x-request-id'];
  return { status: answer.status, headers, body: answer.body, echoed };
}

const JSON_TYPE = { 'content-type': 'application/json' };
const query = (text: string, extra: Record<string, unknown> = {}) => JSON.stringify({ query: text, ...extra });

const CASES: readonly [name: string, body: string, headers: Record<string, string>][] = [
  ['a query', query('{ workflows(first: 2) { nodes { name } } }'), JSON_TYPE],
  [
    'a query with variables and an operation name',
    query('query A($n: Int!) { workflows(first: $n) { totalCount } } query B { __typename }', {
      variables: { n: 1 },
      operationName: 'A',
    }),
    JSON_TYPE,
  ],
  ['a parse error', query('{ workflows('), JSON_TYPE],
  ['a validation error', query('{ nope }'), JSON_TYPE],
  [
    'a validation error, graphql-response+json',
    query('{ nope }'),
    { ...JSON_TYPE, accept: 'application/graphql-response+json' },
  ],
  [
    'a variable that does not coerce',
    query('query ($n: Int!) { workflows(first: $n) { totalCount } }', { variables: { n: 'x' } }),
    JSON_TYPE,
  ],
  [
    'an unknown instance',
    query('{ instance(workflowName: "order-fulfillment", instanceId: "nope") { status } }'),
    JSON_TYPE,
  ],
  [
    'a mutation refused with a typed error',
    query(
      'mutation { pauseInstance(input: { workflowName: "order-fulfillment", instanceId: "nope" }) { __typename } }',
    ),
    JSON_TYPE,
  ],
  [
    'a subscription over a plain POST',
    query('subscription { instanceStatus(workflowName: "x", instanceId: "y") { status } }'),
    JSON_TYPE,
  ],
  [
    'an operation over the cost limit',
    query(
      `{ ${Array.from({ length: 30 }, (_, i) => `w${i}: workflows(first: 100) { nodes { instances(first: 100) { nodes { status } } } }`).join(' ')} }`,
    ),
    JSON_TYPE,
  ],
  [
    'a document nested too deep',
    query(
      `{ ${'workflows(first: 1) { nodes { instances(first: 1) { nodes { workflow { '.repeat(8)}name${' } } } } }'.repeat(8)} }`,
    ),
    JSON_TYPE,
  ],
  ['invalid JSON', '{"query": ', JSON_TYPE],
  ['a JSON null', 'null', JSON_TYPE],
  ['a JSON string', '"{ __typename }"', JSON_TYPE],
  ['a batch', `[${query('{ __typename }')}]`, JSON_TYPE],
  ['an unknown parameter', JSON.stringify({ query: '{ __typename }', extra: 1 }), JSON_TYPE],
  ['no query', JSON.stringify({ variables: {} }), JSON_TYPE],
  ['a query that is not a string', JSON.stringify({ query: 1 }), JSON_TYPE],
  ['variables that are a list', JSON.stringify({ query: '{ __typename }', variables: [1] }), JSON_TYPE],
  ['a charset', query('{ __typename }'), { 'content-type': 'application/json; charset=utf-8' }],
  ['accept */*', query('{ __typename }'), { ...JSON_TYPE, accept: '*/*' }],
  [
    'accept graphql-response+json, then json',
    query('{ nope }'),
    { ...JSON_TYPE, accept: 'application/graphql-response+json, application/json;q=0.9' },
  ],
  ['accept only HTML', query('{ __typename }'), { ...JSON_TYPE, accept: 'text/html' }],
  ['accept json in latin-1', query('{ __typename }'), { ...JSON_TYPE, accept: 'application/json; charset=iso-8859-1' }],
  ['a request id', query('{ __typename }'), { ...JSON_TYPE, 'x-request-id': 'client-chosen-id-1' }],
  ['a loopback origin (CORS)', query('{ __typename }'), { ...JSON_TYPE, origin: 'http://localhost:5173' }],
];

async function startTwin(stack: Stack, authenticator?: Authenticator): Promise<{ app: App; url: string }> {
  const app = createApp({ ...stack.config, httpFastPath: false }, authenticator ? { authenticator } : {});
  return { app, url: await app.start(0, '127.0.0.1') };
}

function differential(setup: () => Promise<{ fast: string; yoga: string; extraHeaders: Record<string, string> }>) {
  let urls: { fast: string; yoga: string; extraHeaders: Record<string, string> };
  beforeAll(async () => {
    urls = await setup();
  });
  it.each(CASES)('%s: the same answer on both paths', async (_name, body, headers) => {
    const all = { ...urls.extraHeaders, ...headers };
    const fast = await send(urls.fast, body, all);
    const yoga = await send(urls.yoga, body, all);
    expect(comparable(fast, all['x-request-id'])).toEqual(comparable(yoga, all['x-request-id']));
  });
}

describe('without authentication', () => {
  let stack: Stack;
  let twin: { app: App; url: string };
  differential(async () => {
    stack = await startStack({ listen: true, config: { production: true, exposeErrorDetails: false } });
    twin = await startTwin(stack);
    expect(stack.app.httpFastPath).toBe(true);
    expect(twin.app.httpFastPath).toBe(false);
    return { fast: stack.url as string, yoga: twin.url, extraHeaders: {} };
  });
  afterAll(async () => {
    await twin?.app.stop();
    await stack?.stop();
  });
});

describe('with API keys', () => {
  let stack: Stack;
  let twin: { app: App; url: string };
  let dir: string;
  const { key, entry } = createApiKey({ id: 'reader', scopes: ['workflows:read'] });
  differential(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wfgql-fast-path-'));
    const keysFile = join(dir, 'keys.json');
    await writeFile(keysFile, JSON.stringify([entry]));
    stack = await startStack({
      listen: true,
      config: { production: true, exposeErrorDetails: false },
      authenticator: await createApiKeyAuthenticator(keysFile),
    });
    twin = await startTwin(stack, await createApiKeyAuthenticator(keysFile));
    expect(stack.app.httpFastPath).toBe(true);
    return { fast: stack.url as string, yoga: twin.url, extraHeaders: { authorization: `Bearer ${key}` } };
  });
  afterAll(async () => {
    await twin?.app.stop();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['no credential', {}],
    ['an unknown key', { authorization: 'Bearer wfgql_unknownunknownunknown' }],
    ['a malformed header', { authorization: 'Basic abc' }],
  ])('refused with %s: the same answer on both paths, and nothing runs', async (_name, credential) => {
    const body = query(
      'mutation { pauseInstance(input: { workflowName: "order-fulfillment", instanceId: "nope" }) { __typename } }',
    );
    stack.resetCalls();
    const fast = await send(stack.url as string, body, { ...JSON_TYPE, ...credential });
    const yoga = await send(twin.url, body, { ...JSON_TYPE, ...credential });
    expect(fast.status).toBe(401);
    expect(comparable(fast, undefined)).toEqual(comparable(yoga, undefined));
    expect(stack.upstreamCalls()).toBe(0);
  });
});
