import { print } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { InstanceStatusChangedDocument as STATUS } from '../generated/operations.js';
import { startStack, type GraphQLResult, type Stack } from '../helpers/stack.js';

const SUBSCRIPTION = print(STATUS);
const VARIABLES = { workflowName: 'order-fulfillment', instanceId: 'no-such-instance' };
const TOKEN_HEADER = 'x-graphql-event-stream-token';

/** What may never appear in an answer or a log line: stack frames, file paths, the gateway's token, the upstream. */
function expectNothingInternal(text: string, stack: Stack): void {
  expect(text).not.toMatch(/\n\s+at |\(\/|file:\/\/|node_modules|\.ts:\d+/);
  expect(text).not.toContain(stack.config.upstream.apiToken);
  expect(text).not.toContain(stack.emulator.url);
}

interface Case {
  readonly name: string;
  /** Path and query after `/graphql/stream`; `{token}` is replaced by a reserved stream's token. */
  readonly path?: string;
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly status: number;
  readonly code: string;
}

const stream = { accept: 'text/event-stream' };
const json = { 'content-type': 'application/json' };
const single = { [TOKEN_HEADER]: '{token}', ...json };
const q = (query: string, extra = '') => `?query=${encodeURIComponent(query)}${extra}`;
const op = (fields: Record<string, unknown>) => JSON.stringify({ extensions: { operationId: 'x' }, ...fields });

/** Client mistakes on /graphql/stream, in both modes, each with the status and code it must get. */
const CASES: readonly Case[] = [
  // distinct connections (Accept: text/event-stream, no token)
  { name: 'a syntax error', path: q('{ x'), headers: stream, status: 400, code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'a GET mutation', path: q('mutation { __typename }'), headers: stream, status: 405, code: 'BAD_REQUEST' },
  {
    name: '?token=__proto__',
    path: `${q('{ __typename }')}&token=__proto__`,
    headers: stream,
    status: 403,
    code: 'FORBIDDEN',
  },
  { name: 'no query', headers: stream, status: 400, code: 'BAD_REQUEST' },
  {
    name: 'variables that are not JSON',
    path: q('{ __typename }', '&variables=%7Bx'),
    headers: stream,
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'variables that are an array',
    path: q('{ __typename }', '&variables=%5B1%5D'),
    headers: stream,
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'extensions that are not JSON',
    path: q('{ __typename }', '&extensions=x'),
    headers: stream,
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'an unknown operation name',
    path: q('{ __typename }', '&operationName=Nope'),
    headers: stream,
    status: 400,
    code: 'OPERATION_RESOLUTION_FAILURE',
  },
  {
    name: 'a POST with malformed JSON',
    method: 'POST',
    headers: { ...stream, ...json },
    body: '{"query": ',
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a POST with a JSON array',
    method: 'POST',
    headers: { ...stream, ...json },
    body: '[1]',
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a POST whose query is a number',
    method: 'POST',
    headers: { ...stream, ...json },
    body: '{"query": 1}',
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a POST of text/plain',
    method: 'POST',
    headers: { ...stream, 'content-type': 'text/plain' },
    body: '{}',
    status: 415,
    code: 'UNSUPPORTED_CONTENT_TYPE',
  },
  {
    name: 'a POST of application/xml',
    method: 'POST',
    headers: { ...stream, 'content-type': 'application/xml' },
    body: '<q/>',
    status: 415,
    code: 'UNSUPPORTED_CONTENT_TYPE',
  },
  // neither mode
  {
    name: 'a GET without Accept: text/event-stream or a token',
    path: q('{ __typename }'),
    status: 400,
    code: 'BAD_REQUEST',
  },
  { name: 'PATCH', method: 'PATCH', status: 405, code: 'BAD_REQUEST' },
  { name: 'a DELETE without a token', method: 'DELETE', path: '?operationId=1', status: 400, code: 'BAD_REQUEST' },
  {
    name: 'a token of another credential',
    method: 'POST',
    headers: { [TOKEN_HEADER]: 'someone.else', ...json },
    body: op({ query: '{ __typename }' }),
    status: 403,
    code: 'FORBIDDEN',
  },
  {
    name: 'a token never reserved',
    method: 'POST',
    headers: { [TOKEN_HEADER]: '{owner}.unknown', ...json },
    body: op({ query: '{ __typename }' }),
    status: 404,
    code: 'NOT_FOUND',
  },
  // single connection (a reserved stream's token)
  {
    name: 'a PUT that does not accept text',
    method: 'PUT',
    headers: { accept: 'application/json' },
    status: 406,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a second PUT of a reserved token',
    method: 'PUT',
    headers: { [TOKEN_HEADER]: '{token}' },
    status: 409,
    code: 'BAD_REQUEST',
  },
  {
    name: 'an operation without operationId',
    method: 'POST',
    headers: single,
    body: JSON.stringify({ query: '{ __typename }' }),
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'an operation with malformed JSON',
    method: 'POST',
    headers: single,
    body: '{x',
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'an operation with bad variables',
    method: 'POST',
    headers: single,
    body: op({ query: '{ __typename }', variables: 'x' }),
    status: 400,
    code: 'BAD_REQUEST',
  },
  {
    name: 'an operation with a syntax error',
    method: 'POST',
    headers: single,
    body: op({ query: '{ x' }),
    status: 400,
    code: 'GRAPHQL_PARSE_FAILED',
  },
  {
    name: 'an operation with an unknown name',
    method: 'POST',
    headers: single,
    body: op({ query: '{ __typename }', operationName: 'Nope' }),
    status: 400,
    code: 'OPERATION_RESOLUTION_FAILURE',
  },
  {
    name: 'an operation that accepts only HTML',
    method: 'POST',
    headers: { ...single, accept: 'text/html' },
    body: op({ query: '{ __typename }' }),
    status: 406,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a mutation sent with GET on a stream',
    path: q('mutation { __typename }', '&extensions=%7B%22operationId%22%3A%22m%22%7D'),
    headers: { [TOKEN_HEADER]: '{token}' },
    status: 405,
    code: 'BAD_REQUEST',
  },
  {
    name: 'a DELETE without operationId',
    method: 'DELETE',
    headers: { [TOKEN_HEADER]: '{token}' },
    status: 400,
    code: 'BAD_REQUEST',
  },
];

describe('/graphql/stream answers every client mistake with a coded, masked 4xx', () => {
  let stack: Stack;
  const logs: string[] = [];
  let owner = '';

  beforeAll(async () => {
    const log = (...args: unknown[]) =>
      logs.push(args.map((a) => (a instanceof Error ? (a.stack ?? '') : String(a))).join(' '));
    stack = await startStack({
      listen: true,
      // Each case reserves its own stream.
      config: { production: true, exposeErrorDetails: false, maxSseReservationsPerClient: 1000 },
      logger: { debug: log, info: log, warn: log, error: log },
    });
    const put = await fetch(`${stack.url as string}/stream`, { method: 'PUT' });
    owner = (await put.text()).split('.')[0] ?? '';
  });

  it.each(CASES)('$name: $status $code', async (c) => {
    // A fresh stream for each case, so that one case's operation cannot collide with another's.
    const reserved = await fetch(`${stack.url as string}/stream`, { method: 'PUT' });
    const token = await reserved.text();
    const fill = (value: string) => value.replace('{token}', token).replace('{owner}', owner);
    const headers = Object.fromEntries(Object.entries(c.headers ?? {}).map(([k, v]) => [k, fill(v)]));
    const response = await fetch(`${stack.url as string}/stream${c.path ?? ''}`, {
      method: c.method ?? 'GET',
      headers,
      ...(c.body === undefined ? {} : { body: c.body }),
    });
    const text = await response.text();
    expect(response.status).toBe(c.status);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(text) as GraphQLResult<never>;
    expect(body.errors?.length).toBeGreaterThan(0);
    expect(body.errors?.map((e) => e.extensions?.['code'])).toEqual(body.errors?.map(() => c.code));
    expectNothingInternal(text, stack);
    expect(text).not.toContain(token.split('.')[1]);
    for (const line of logs) expectNothingInternal(line, stack);
  });

  it("sends validation, variable and cost errors as the operation's coded event, in both modes", async () => {
    const cheap = await startStack({ listen: true, config: { maxQueryCost: 1 } });
    const url = `${cheap.url as string}/stream`;
    const operations = [
      { query: 'subscription { nope }', code: 'GRAPHQL_VALIDATION_FAILED' },
      { query: SUBSCRIPTION, variables: { ...VARIABLES, instanceId: 5 }, code: 'BAD_USER_INPUT' },
      {
        query: '{ a: workflows(first: 1) { nodes { name } } b: workflows(first: 2) { nodes { name } } }',
        code: 'QUERY_TOO_EXPENSIVE',
      },
    ];
    for (const { query, variables, code } of operations) {
      const distinct = await fetch(url, {
        method: 'POST',
        headers: { ...stream, ...json },
        body: JSON.stringify({ query, variables }),
      });
      expect(distinct.status).toBe(200);
      const events = await distinct.text();
      const next = /event: next\ndata: (.*)\n/.exec(events)?.[1] ?? '{}';
      expect((JSON.parse(next) as GraphQLResult<never>).errors?.map((e) => e.extensions?.['code'])).toEqual([code]);
    }

    const token = await (await fetch(url, { method: 'PUT' })).text();
    const controller = new AbortController();
    const opened = await fetch(url, { headers: { ...stream, [TOKEN_HEADER]: token }, signal: controller.signal });
    const sent = await Promise.all(
      operations.map(({ query, variables }, i) =>
        fetch(url, {
          method: 'POST',
          headers: { ...json, [TOKEN_HEADER]: token },
          body: JSON.stringify({ query, variables, extensions: { operationId: String(i) } }),
        }),
      ),
    );
    expect(sent.map((r) => r.status)).toEqual([202, 202, 202]);
    const received = new Map<string, unknown>();
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of opened.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (const [, data] of buffer.matchAll(/event: next\ndata: (.*)\n/g)) {
        const { id, payload } = JSON.parse(data ?? '{}') as { id: string; payload: GraphQLResult<never> };
        received.set(
          id,
          payload.errors?.map((e) => e.extensions),
        );
      }
      if (received.size === operations.length) break;
    }
    controller.abort();
    expect(Object.fromEntries(received)).toEqual({
      0: [{ code: 'GRAPHQL_VALIDATION_FAILED' }],
      1: [{ code: 'BAD_USER_INPUT' }],
      2: [expect.objectContaining({ code: 'QUERY_TOO_EXPENSIVE' })],
    });
  });

  it('serves GraphQL over SSE at /graphql/stream only, not at paths that end with it', async () => {
    const response = await fetch(
      `${(stack.url as string).replace('/graphql', '')}/x/graphql/stream${q('{ __typename }')}`,
      {
        headers: stream,
      },
    );
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type') ?? '').not.toMatch(/event-stream/);
    await response.body?.cancel();
  });
});
