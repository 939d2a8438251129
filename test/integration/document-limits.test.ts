import { getIntrospectionQuery } from 'graphql';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acknowledgedSocket } from '../helpers/live.js';
import { startStack, type Stack } from '../helpers/stack.js';

/** Small limits, so that each document stays small; the defaults are checked in test/unit/config.test.ts. */
const LIMITS = { maxBytes: 4096, maxTokens: 400, maxAliases: 10, maxDepth: 6, maxDirectives: 5 };

let stack: Stack;
let url: URL;

beforeAll(async () => {
  stack = await startStack({ listen: true, config: { documentLimits: LIMITS } });
  url = new URL(stack.url as string);
});
afterAll(() => stack.stop());

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** Sends one request over real HTTP and reads its whole answer. */
function send(method: 'GET' | 'POST', path: string, body?: string, headers: Record<string, string> = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(new URL(path, url), { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const ACCEPT = { accept: 'application/graphql-response+json' };

function post(query: string): Promise<Answer> {
  const body = JSON.stringify({ query });
  return send('POST', '/graphql', body, {
    ...ACCEPT,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  });
}

const get = (query: string): Promise<Answer> => send('GET', `/graphql?query=${encodeURIComponent(query)}`, '', ACCEPT);

/** `{ a0: __typename a1: __typename … }` */
const aliases = (n: number): string => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;

/** `query { workflows { nodes { workflow { … } } } }`-style nesting through a field that exists at every level. */
const nested = (levels: number): string => `{ ${'workflows { nodes { '.repeat(levels)}name${' } }'.repeat(levels)} }`;

const cases: [name: string, query: string, limitName: string, limit: number][] = [
  ['a document over MAX_DOCUMENT_BYTES', `{ __typename }\n# ${'x'.repeat(5000)}`, 'MAX_DOCUMENT_BYTES', 4096],
  ['a document over MAX_TOKENS', `{ ${'a '.repeat(399)}}`, 'MAX_TOKENS', 400],
  ['an operation over MAX_ALIASES (aliases of __typename count)', aliases(11), 'MAX_ALIASES', 10],
  ['an operation over MAX_DEPTH', nested(4), 'MAX_DEPTH', 6],
  [
    'an introspection over MAX_DEPTH (graphql-armor skips introspection by default)',
    '{ __schema { types { fields { type { ofType { ofType { name } } } } } } }',
    'MAX_DEPTH',
    6,
  ],
  [
    'an operation over MAX_DEPTH through fragment spreads',
    '{ ...A } fragment A on Query { __schema { ...B } } fragment B on __Schema { types { fields { type { ofType { ofType { name } } } } } }',
    'MAX_DEPTH',
    6,
  ],
  ['an operation over MAX_DIRECTIVES', `{ __typename ${'@skip(if: false) '.repeat(6)}}`, 'MAX_DIRECTIVES', 5],
];

function expectDocumentLimit(answer: Answer, limitName: string, limit: number): void {
  expect(answer.status).toBe(400);
  const body = JSON.parse(answer.body) as { data?: unknown; errors: { extensions: Record<string, unknown> }[] };
  expect(body.data).toBeUndefined();
  expect(body.errors).toHaveLength(1);
  expect(body.errors[0]?.extensions).toEqual({ code: 'DOCUMENT_LIMIT', limitName, limit });
}

describe('document limits over HTTP', () => {
  it.each(cases)('refuses %s with DOCUMENT_LIMIT (POST)', async (_, query, limitName, limit) => {
    expectDocumentLimit(await post(query), limitName, limit);
  });

  it.each(cases)('refuses %s with DOCUMENT_LIMIT (GET)', async (_, query, limitName, limit) => {
    expectDocumentLimit(await get(query), limitName, limit);
  });

  it('serves a document at every limit', async () => {
    const atLimits = `{ ${Array.from({ length: 10 }, (_, i) => `a${i}: __typename${i < 5 ? ' @skip(if: false)' : ''}`).join(' ')} }`;
    const answer = await post(atLimits);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      data: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`a${i}`, 'Query'])),
    });
    // Six levels: __type, fields, type, ofType, ofType, name.
    const deep = await post('{ __type(name: "Query") { fields { type { ofType { ofType { name } } } } } }');
    expect(JSON.parse(deep.body).errors).toBeUndefined();
  });

  it('answers clients that accept only application/json with 200 and the same error, as for other parse errors', async () => {
    const body = JSON.stringify({ query: aliases(11) });
    const answer = await send('POST', '/graphql', body, {
      accept: 'application/json',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).errors[0].extensions.code).toBe('DOCUMENT_LIMIT');
  });
});

describe('document limits at their defaults', () => {
  it("serve graphql's full introspection query (every option on), as GraphiQL and codegen send it", async () => {
    const defaults = await startStack();
    try {
      const query = getIntrospectionQuery({
        descriptions: true,
        specifiedByUrl: true,
        directiveIsRepeatable: true,
        schemaDescription: true,
        inputValueDeprecation: true,
        oneOf: true,
      });
      const result = await defaults.graphql(query);
      expect(result.errors).toBeUndefined();
      expect(result.data).toHaveProperty('__schema');
    } finally {
      await defaults.stop();
    }
  });
});

describe('document limits over SSE', () => {
  it('refuses a document over MAX_ALIASES on a distinct-connections stream with DOCUMENT_LIMIT', async () => {
    const body = JSON.stringify({ query: `subscription ${aliases(11)}` });
    const answer = await send('POST', '/graphql', body, {
      accept: 'text/event-stream',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    });
    expect(answer.body).toContain('"code":"DOCUMENT_LIMIT"');
    expect(answer.body).toContain('"limitName":"MAX_ALIASES"');
  });
});

describe('document limits over graphql-ws', () => {
  it.each(cases)('refuses %s with DOCUMENT_LIMIT and keeps the connection', async (_, query, limitName, limit) => {
    const { socket, messages, until } = await acknowledgedSocket(url.href);
    try {
      socket.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query } }));
      socket.send(JSON.stringify({ type: 'subscribe', id: '2', payload: { query: '{ __typename }' } }));
      await until((m) => m.id === '2' && m.type === 'complete');
      const refusal = messages.find((m) => m.id === '1');
      expect(refusal?.type).toBe('error');
      expect(refusal?.payload).toMatchObject([{ extensions: { code: 'DOCUMENT_LIMIT', limitName, limit } }]);
      expect(messages.find((m) => m.id === '2' && m.type === 'next')?.payload).toEqual({
        data: { __typename: 'Query' },
      });
    } finally {
      socket.close();
    }
  });
});

describe('the reproduction of issue 12: ~16 MiB documents of __typename aliases', () => {
  it('refuses six distinct ones with DOCUMENT_LIMIT under the default limits, and keeps serving', async () => {
    const defaults = await startStack({ listen: true });
    try {
      const target = new URL(defaults.url as string);
      for (let seed = 0; seed < 6; seed++) {
        // Just under the default MAX_REQUEST_BYTES (16 MiB), so that only the document limits can refuse it.
        const parts = ['{'];
        let bytes = 0;
        for (let i = 0; bytes < 16 * 1024 * 1024 - 100; i++) {
          const alias = ` s${seed}_${i.toString(36)}: __typename`;
          parts.push(alias);
          bytes += alias.length;
        }
        const body = JSON.stringify({ query: `${parts.join('')} }` });
        const answer = await new Promise<Answer>((resolve, reject) => {
          const req = request(
            target,
            {
              method: 'POST',
              headers: { ...ACCEPT, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
            },
            (res) => {
              let text = '';
              res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
        expectDocumentLimit(answer, 'MAX_DOCUMENT_BYTES', 65_536);
      }
      expect(await defaults.graphql('{ __typename }')).toEqual({ data: { __typename: 'Query' } });
    } finally {
      await defaults.stop();
    }
  });
});
