/**
 * The hostile corpus: requests an attacker or a broken client sends, over HTTP (`/graphql`), graphql-ws and
 * graphql-sse (`/graphql/stream`), each with the one code it must be refused with. The shapes are those of
 * issue 12 (huge and deep documents, alias and directive bombs, unbounded id lists, malformed JSON, wrong
 * content types, odd unicode, header abuse, protocol abuse), each sent several ways.
 */
import { ADDRESSABLE_INSTANCE_ID, follows } from '../../src/identifiers.js';
import { maskedFrame, rawHttp, wsConversation, type Answer, type RawRequest } from './probe.js';

/** Where the corpus is sent, and the credential a well-behaved part of a request carries. */
export interface Target {
  readonly port: number;
  /** A valid API key (read and write scopes). */
  readonly key: string;
}

export interface HostileCase {
  readonly name: string;
  readonly transport: 'http' | 'graphql-ws' | 'graphql-sse';
  /** The code the answer must carry (its first `extensions.code`, or `close <code>` for a closed WebSocket). */
  readonly code: string;
  /** The HTTP status the answer must have, or the WebSocket close code / refused upgrade's status. */
  readonly status?: number;
  send(target: Target): Promise<Answer>;
}

const SEP = '\u2028';
const MiB = 1024 * 1024;

// ---- documents: sent over every transport -------------------------------------------------------------------

interface DocumentCase {
  readonly name: string;
  readonly query: string;
  readonly variables?: unknown;
  /** Variables as JSON text, for values too deep for JSON.stringify here. */
  readonly rawVariables?: string;
  readonly operationName?: unknown;
  readonly code: string;
  /** What graphql-ws answers where it differs: a payload of the wrong shape breaks its protocol (close 4400). */
  readonly ws?: string;
}

const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;
const deepSelection = (depth: number) =>
  `{ __schema { types { fields { type { ${'ofType { '.repeat(depth)}name${' }'.repeat(depth)} } } } } }`;
const directives = (n: number) => `{ __typename ${'@skip(if: false) '.repeat(n)}}`;
const manyTokens = (n: number) => `{ ${'__typename '.repeat(n)}}`;
const nodeIds = (ids: readonly string[]) => `{ nodes(ids: ${JSON.stringify(ids)}) { id } }`;
const instanceById = 'query ($w: String!, $id: String!) { instance(workflowName: $w, instanceId: $id) { id status } }';

/** Ids no instance may have (src/identifiers.ts): odd unicode, path segments, control characters, length. */
const ODD_IDS: readonly (readonly [string, string])[] = [
  ['lone high surrogate', 'a\ud800b'],
  ['lone low surrogate', '\udc00'],
  ['NUL', 'a\u0000b'],
  ['right-to-left override', 'evil\u202Etxt.exe'],
  ['zero-width joiner', 'a\u200Db'],
  ['emoji', 'run-\u{1F600}'],
  ['combining marks', 'a' + '\u0301'.repeat(50)],
  ['full-width letters', '\uFF41\uFF42'],
  ['dot', '.'],
  ['dot dot', '..'],
  ['slash', 'a/b'],
  ['encoded slash', 'a%2Fb'],
  ['backslash', 'a\\b'],
  ['query string', 'a?b=c'],
  ['fragment', 'a#b'],
  ['space', 'a b'],
  ['newline', 'a\nb'],
  ['CRLF header injection', 'a\r\nX-Injected: 1'],
  ['line separator', `a${SEP}b`],
  ['empty', ''],
  ['too long', 'a'.repeat(10_000)],
  ['one MiB', 'a'.repeat(MiB)],
];

/** Ids of cron-started instances may hold a space, `/` and `#`: those are not hostile. */
const isAddressableId = (id: string) => follows(ADDRESSABLE_INSTANCE_ID, id);

const DOCUMENTS: readonly DocumentCase[] = [
  // Syntax.
  { name: 'unclosed brace', query: '{', code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'stray brace', query: '}', code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'unterminated selection', query: '{ __typename', code: 'GRAPHQL_PARSE_FAILED' },
  {
    name: 'unterminated string',
    query: '{ instance(workflowName: "a, instanceId: "b") { id } }',
    code: 'GRAPHQL_PARSE_FAILED',
  },
  { name: 'only a comment', query: '# nothing here', code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'only blanks', query: '   \n\t ', code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'NUL in the document', query: '{ __type\u0000name }', code: 'GRAPHQL_PARSE_FAILED' },
  { name: 'lone surrogate in the document', query: '{ \ud800 }', code: 'GRAPHQL_PARSE_FAILED' },
  // A byte order mark is white space in GraphQL: it splits the name in two unknown fields.
  { name: 'byte order mark inside a name', query: '{ __type\uFEFFname }', code: 'GRAPHQL_VALIDATION_FAILED' },
  { name: 'unbalanced parentheses', query: '{ workflow(name: "a" { name } }', code: 'GRAPHQL_PARSE_FAILED' },
  // Validation.
  { name: 'unknown field', query: '{ nope }', code: 'GRAPHQL_VALIDATION_FAILED' },
  { name: 'missing required argument', query: '{ workflow { name } }', code: 'GRAPHQL_VALIDATION_FAILED' },
  { name: 'wrong argument type', query: '{ workflow(name: 1) { name } }', code: 'GRAPHQL_VALIDATION_FAILED' },
  {
    name: 'fragment cycle',
    query: 'query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }',
    code: 'GRAPHQL_VALIDATION_FAILED',
  },
  { name: 'selection on a scalar', query: '{ __typename { x } }', code: 'GRAPHQL_VALIDATION_FAILED' },
  // Operation resolution.
  {
    name: 'unknown operationName',
    query: 'query A { __typename }',
    operationName: 'B',
    code: 'OPERATION_RESOLUTION_FAILURE',
  },
  {
    name: 'two operations, no operationName',
    query: 'query A { __typename } query B { __typename }',
    code: 'OPERATION_RESOLUTION_FAILURE',
  },
  // Size and shape limits (issue 12: documents no real frontend sends).
  { name: '2,000 aliases', query: aliases(2_000), code: 'DOCUMENT_LIMIT' },
  { name: '40,000 aliases (~700 KiB)', query: aliases(40_000), code: 'DOCUMENT_LIMIT' },
  { name: 'depth 60 through introspection', query: deepSelection(60), code: 'DOCUMENT_LIMIT' },
  { name: '300 directives', query: directives(300), code: 'DOCUMENT_LIMIT' },
  { name: '60,000 tokens', query: manyTokens(60_000), code: 'DOCUMENT_LIMIT' },
  {
    name: 'a 2 MiB comment',
    query: `# ${'x'.repeat(2 * MiB)}\n{ __typename }`,
    code: 'DOCUMENT_LIMIT',
  },
  {
    name: 'a 1 MiB string literal as a workflow name',
    query: `{ workflow(name: "${'w'.repeat(MiB)}") { name } }`,
    code: 'DOCUMENT_LIMIT',
  },
  // Unbounded lists.
  {
    name: 'nodes with 101 ids',
    query: nodeIds(Array.from({ length: 101 }, (_, i) => `i${i}`)),
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'nodes with 300,000 invalid ids in a variable',
    query: 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }',
    variables: { ids: Array.from({ length: 300_000 }, () => '!') },
    code: 'BAD_USER_INPUT',
  },
  // Written as text: JSON.stringify of millions of items would cost the corpus more than the server.
  {
    name: 'nodes with 3,500,000 ids in a variable (~14 MB)',
    query: 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }',
    rawVariables: `{"ids":[${'"x",'.repeat(3_499_999)}"x"]}`,
    code: 'BAD_USER_INPUT',
  },
  {
    // Items `0`, not `{}`: the same refusal, without four million objects in the corpus's own heap.
    name: 'createInstances with 4,000,000 items (~8 MB)',
    query: 'mutation ($input: CreateInstancesInput!) { createInstances(input: $input) { __typename } }',
    rawVariables: `{"input":{"workflowName":"order-fulfillment","instances":[${'0,'.repeat(3_999_999)}0]}}`,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'an input object with 100,000 undeclared members (~1 MB)',
    query: 'mutation ($input: CreateInstancesInput!) { createInstances(input: $input) { __typename } }',
    rawVariables: `{"input":{"workflowName":"w","instances":[{}],${Array.from({ length: 100_000 }, (_, i) => `"k${i}":1`).join(',')}}}`,
    code: 'BAD_USER_INPUT',
  },
  { name: 'nodes with a malformed first id', query: nodeIds(['not-a-node-id', 'x']), code: 'BAD_USER_INPUT' },
  { name: 'node with a malformed id', query: '{ node(id: "%%%") { id } }', code: 'BAD_USER_INPUT' },
  {
    name: 'node with a global id of a type that is not a Node',
    query: `{ node(id: "${Buffer.from('__proto__:x').toString('base64')}") { id } }`,
    code: 'BAD_USER_INPUT',
  },
  // Variables.
  {
    name: 'a required variable missing',
    query: 'query ($id: ID!) { node(id: $id) { id } }',
    variables: {},
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'an ID variable given an object',
    query: 'query ($id: ID!) { node(id: $id) { id } }',
    variables: { id: { $gt: '' } },
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'an ID variable given an array',
    query: 'query ($id: ID!) { node(id: $id) { id } }',
    variables: { id: ['a'] },
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'an Int variable given a string',
    query: 'query ($n: Int) { workflows(first: $n) { totalCount } }',
    variables: { n: 'ten' },
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'an Int variable beyond 32 bits',
    query: 'query ($n: Int) { workflows(first: $n) { totalCount } }',
    variables: { n: 2 ** 53 },
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'a negative page size',
    query: 'query ($n: Int) { workflows(first: $n) { totalCount } }',
    variables: { n: -1 },
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'variables that are a string',
    query: 'query ($n: Int) { workflows(first: $n) { totalCount } }',
    variables: 'n=1',
    code: 'BAD_REQUEST',
    ws: 'close 4400',
  },
  {
    name: 'a variable named __proto__',
    query: 'query ($id: ID!) { node(id: $id) { id } }',
    variables: JSON.parse('{"__proto__": {"id": "x"}}') as unknown,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'a 4 MiB string given for an Int',
    query: 'query ($n: Int) { workflows(first: $n) { totalCount } }',
    variables: { n: 'n'.repeat(4 * MiB) },
    code: 'BAD_USER_INPUT',
  },
  {
    // The executor printed the whole object once per error: nine errors of 2 MB each for one 2 MB request.
    name: 'nine undeclared members, one a 1,000,000-item list',
    query: 'mutation ($i: CreateInstanceInput!) { createInstance(input: $i) { __typename } }',
    rawVariables: `{"i":{"a0":[${'0,'.repeat(999_999)}0]${Array.from({ length: 8 }, (_, k) => `,"b${k}":1`).join('')}}}`,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'variables nested 100,000 deep',
    query: 'query ($id: ID!) { node(id: $id) { id } }',
    rawVariables: `{"id":${'{"a":'.repeat(100_000)}"x"${'}'.repeat(100_000)}}`,
    code: 'BAD_USER_INPUT',
  },
  {
    name: 'operationName that is a number',
    query: '{ __typename }',
    operationName: 5,
    code: 'OPERATION_RESOLUTION_FAILURE',
    ws: 'close 4400',
  },
  ...ODD_IDS.filter(([, id]) => !isAddressableId(id)).map(([what, id]): DocumentCase => ({
    name: `an instance id with ${what}`,
    query: instanceById,
    variables: { w: 'flaky-import', id },
    code: 'BAD_USER_INPUT',
  })),
  ...ODD_IDS.map(([what, name]): DocumentCase => ({
    name: `a workflow name with ${what}`,
    query: 'query ($n: String!) { workflow(name: $n) { name } }',
    variables: { n: name },
    code: 'BAD_USER_INPUT',
  })),
];

const auth = (target: Target): [string, string] => ['Authorization', `Bearer ${target.key}`];

/** The GraphQL request of a document case as JSON text (`{"query":…,"variables":…,"operationName":…}`). */
function graphqlBody(doc: DocumentCase): string {
  const members = [`"query":${JSON.stringify(doc.query)}`];
  if (doc.rawVariables !== undefined) members.push(`"variables":${doc.rawVariables}`);
  else if (doc.variables !== undefined) members.push(`"variables":${JSON.stringify(doc.variables)}`);
  if (doc.operationName !== undefined) members.push(`"operationName":${JSON.stringify(doc.operationName)}`);
  return `{${members.join(',')}}`;
}

function documentOverHttp(doc: DocumentCase): HostileCase {
  return {
    name: `POST /graphql: ${doc.name}`,
    transport: 'http',
    code: doc.code,
    send: (t) =>
      rawHttp(t.port, {
        target: '/graphql',
        headers: [auth(t), ['Content-Type', 'application/json'], ['Accept', 'application/graphql-response+json']],
        body: graphqlBody(doc),
      }),
  };
}

function documentOverSse(doc: DocumentCase): HostileCase {
  return {
    name: `POST /graphql/stream: ${doc.name}`,
    transport: 'graphql-sse',
    code: doc.code,
    send: (t) =>
      rawHttp(t.port, {
        target: '/graphql/stream',
        headers: [auth(t), ['Content-Type', 'application/json'], ['Accept', 'text/event-stream']],
        body: graphqlBody(doc),
      }),
  };
}

const init = (t: Target) => JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${t.key}` } });

function documentOverWs(doc: DocumentCase): HostileCase {
  return {
    name: `graphql-ws subscribe: ${doc.name}`,
    transport: 'graphql-ws',
    code: doc.ws ?? doc.code,
    send: (t) =>
      wsConversation(`ws://127.0.0.1:${t.port}/graphql`, {
        frames: [init(t)],
        afterAck: [`{"id":"1","type":"subscribe","payload":${graphqlBody(doc)}}`],
      }),
  };
}

// ---- HTTP bodies, content types, query strings, headers, methods ----------------------------------------------

const MALFORMED_BODIES: readonly (readonly [string, string | Buffer])[] = [
  ['an empty body', ''],
  ['an open brace', '{'],
  ['a truncated member', '{"query":'],
  ['a close brace', '}'],
  ['an empty array (batching is off)', '[]'],
  ['a batch of two', '[{"query":"{ __typename }"},{"query":"{ __typename }"}]'],
  ['null', 'null'],
  ['true', 'true'],
  ['a number', '1'],
  ['a string', '"{ __typename }"'],
  ['query as a number', '{"query":1}'],
  ['query null', '{"query":null}'],
  ['query as an object', '{"query":{}}'],
  ['query as an array', '{"query":["{ __typename }"]}'],
  ['no query', '{"variables":{}}'],
  ['variables as an array', '{"query":"{ __typename }","variables":[1]}'],
  ['variables as a number', '{"query":"{ __typename }","variables":1}'],
  ['extensions as a string', '{"query":"{ __typename }","extensions":"x"}'],
  ['trailing garbage', '{"query":"{ __typename }"} trailing'],
  ['a trailing comma', '{"query":"{ __typename }",}'],
  ['single quotes', "{'query':'{ __typename }'}"],
  ['a byte order mark', '\uFEFF{"query":"{ __typename }"}'],
  ['NaN', '{"query":"{ __typename }","variables":{"n":NaN}}'],
  ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x71, 0xff, 0xfe, 0x22, 0x7d])],
  ['NUL bytes', Buffer.alloc(64)],
  ['arrays nested 100,000 deep', '['.repeat(100_000) + ']'.repeat(100_000)],
  ['objects nested 100,000 deep', '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)],
];

const CONTENT_TYPES: readonly (readonly [string, string | null, string])[] = [
  ['no content type', null, 'UNSUPPORTED_CONTENT_TYPE'],
  ['text/plain', 'text/plain', 'UNSUPPORTED_CONTENT_TYPE'],
  ['text/plain with charset', 'text/plain;charset=UTF-8', 'UNSUPPORTED_CONTENT_TYPE'],
  ['a form', 'application/x-www-form-urlencoded', 'UNSUPPORTED_CONTENT_TYPE'],
  ['multipart', 'multipart/form-data; boundary=xyz', 'UNSUPPORTED_CONTENT_TYPE'],
  ['multipart without a boundary', 'multipart/form-data', 'UNSUPPORTED_CONTENT_TYPE'],
  ['XML', 'application/xml', 'UNSUPPORTED_CONTENT_TYPE'],
  ['octet-stream', 'application/octet-stream', 'UNSUPPORTED_CONTENT_TYPE'],
  ['HTML', 'text/html', 'UNSUPPORTED_CONTENT_TYPE'],
  ['an empty value', '', 'UNSUPPORTED_CONTENT_TYPE'],
  ['a lone semicolon', ';', 'UNSUPPORTED_CONTENT_TYPE'],
  ['a JSON look-alike', 'application/jsonx', 'UNSUPPORTED_CONTENT_TYPE'],
];

interface QueryStringCase {
  readonly name: string;
  readonly query: string;
  readonly code: string;
  readonly status: number;
  /** What `/graphql/stream` answers where it differs: validation errors arrive there as the stream's event. */
  readonly stream?: { readonly code: string; readonly status: number };
}

const typename = encodeURIComponent('{ __typename }');
const BAD_QUERY_STRINGS: readonly QueryStringCase[] = [
  // URLSearchParams decodes a broken escape to U+FFFD, which is no GraphQL.
  { name: 'a broken percent escape (URIError)', query: 'query=%E0%A4%A', code: 'GRAPHQL_PARSE_FAILED', status: 400 },
  { name: 'a lone percent sign', query: 'query=%', code: 'GRAPHQL_PARSE_FAILED', status: 400 },
  {
    name: 'variables that are not JSON',
    query: `query=${typename}&variables=notjson`,
    code: 'BAD_REQUEST',
    status: 400,
  },
  { name: 'variables cut short', query: `query=${typename}&variables=%7B`, code: 'BAD_REQUEST', status: 400 },
  {
    name: 'extensions that are not JSON',
    query: `query=${typename}&extensions=%7Bx`,
    code: 'BAD_REQUEST',
    status: 400,
  },
  {
    name: 'a mutation over GET',
    query: `query=${encodeURIComponent('mutation { pauseInstance(workflowName: "a", id: "b") { __typename } }')}`,
    code: 'BAD_REQUEST',
    status: 405,
  },
  {
    name: 'an empty query',
    query: 'query=',
    code: 'BAD_REQUEST',
    status: 400,
    stream: { code: 'GRAPHQL_PARSE_FAILED', status: 400 },
  },
  { name: 'a NUL query', query: 'query=%00', code: 'GRAPHQL_PARSE_FAILED', status: 400 },
  {
    name: 'token=__proto__',
    query: 'token=__proto__',
    code: 'BAD_REQUEST',
    status: 400,
    // A stream token that is not the caller's (src/transport/sse.ts binds each to its principal).
    stream: { code: 'FORBIDDEN', status: 403 },
  },
  {
    name: '__proto__ as a parameter',
    query: `__proto__=x&query=${encodeURIComponent('{ nope }')}`,
    code: 'GRAPHQL_VALIDATION_FAILED',
    status: 400,
    stream: { code: 'GRAPHQL_VALIDATION_FAILED', status: 200 },
  },
  {
    name: 'variables nested 2,000 deep',
    query: `query=${typename}&variables=${'%5B'.repeat(2_000)}${'%5D'.repeat(2_000)}`,
    code: 'BAD_REQUEST',
    status: 400,
  },
];

function request(
  name: string,
  code: string,
  status: number | undefined,
  build: (t: Target) => RawRequest,
  transport: HostileCase['transport'] = 'http',
): HostileCase {
  return {
    name,
    transport,
    code,
    ...(status === undefined ? {} : { status }),
    send: (t) => rawHttp(t.port, build(t)),
  };
}

function httpCases(): HostileCase[] {
  const cases: HostileCase[] = [];
  for (const path of ['/graphql', '/graphql/stream']) {
    const transport = path === '/graphql' ? 'http' : 'graphql-sse';
    const accept = path === '/graphql' ? 'application/graphql-response+json' : 'text/event-stream';
    for (const [what, body] of MALFORMED_BODIES)
      cases.push(
        request(
          `POST ${path}: ${what}`,
          'BAD_REQUEST',
          400,
          (t) => ({
            target: path,
            headers: [auth(t), ['Content-Type', 'application/json'], ['Accept', accept]],
            body,
          }),
          transport,
        ),
      );
    for (const [what, type, code] of CONTENT_TYPES)
      cases.push(
        request(
          `POST ${path} with ${what}`,
          code,
          415,
          (t) => ({
            target: path,
            headers: [
              auth(t),
              ...(type === null ? [] : [['Content-Type', type] as [string, string]]),
              ['Accept', accept],
            ],
            body: '{"query":"{ __typename }"}',
          }),
          transport,
        ),
      );
    for (const { name: what, query, ...expected } of BAD_QUERY_STRINGS) {
      const { code, status } = path === '/graphql/stream' ? (expected.stream ?? expected) : expected;
      cases.push(
        request(
          `GET ${path}: ${what}`,
          code,
          status,
          (t) => ({
            method: 'GET',
            target: `${path}?${query}`,
            headers: [auth(t), ['Accept', accept]],
          }),
          transport,
        ),
      );
    }
    for (const method of ['PUT', 'DELETE', 'PATCH', 'TRACE'])
      if (!(path === '/graphql/stream' && method === 'PUT') && !(path === '/graphql/stream' && method === 'DELETE'))
        cases.push(
          request(
            `${method} ${path}`,
            'BAD_REQUEST',
            405,
            (t) => ({
              method,
              target: path,
              headers: [auth(t), ['Content-Type', 'application/json']],
              body: '{"query":"{ __typename }"}',
            }),
            transport,
          ),
        );
  }
  return cases;
}

const VALID_BODY = '{"query":"{ __typename }"}';
const json = (t: Target): [string, string][] => [auth(t), ['Content-Type', 'application/json']];

function headerCases(): HostileCase[] {
  const post = (name: string, code: string, status: number, headers: (t: Target) => [string, string][]) =>
    request(`POST /graphql with ${name}`, code, status, (t) => ({
      target: '/graphql',
      headers: headers(t),
      body: VALID_BODY,
    }));
  const raw = (name: string, code: string, status: number, build: (t: Target) => RawRequest) =>
    request(name, code, status, build);
  return [
    post('no credential', 'UNAUTHENTICATED', 401, () => [['Content-Type', 'application/json']]),
    post('Bearer and no token', 'UNAUTHENTICATED', 401, () => [
      ['Authorization', 'Bearer'],
      ['Content-Type', 'application/json'],
    ]),
    post('Basic credentials', 'UNAUTHENTICATED', 401, () => [
      ['Authorization', 'Basic YTpi'],
      ['Content-Type', 'application/json'],
    ]),
    post('a wrong key', 'UNAUTHENTICATED', 401, () => [
      ['Authorization', 'Bearer wfgql_wrong'],
      ['Content-Type', 'application/json'],
    ]),
    post('the key with a character more', 'UNAUTHENTICATED', 401, (t) => [
      ['Authorization', `Bearer ${t.key}x`],
      ['Content-Type', 'application/json'],
    ]),
    post('the key in lower case', 'UNAUTHENTICATED', 401, (t) => [
      ['Authorization', `Bearer ${t.key.toLowerCase()}`],
      ['Content-Type', 'application/json'],
    ]),
    post('a 6 KiB bearer token', 'UNAUTHENTICATED', 401, () => [
      ['Authorization', `Bearer ${'k'.repeat(6 * 1024)}`],
      ['Content-Type', 'application/json'],
    ]),
    post('the key twice in one header', 'UNAUTHENTICATED', 401, (t) => [
      ['Authorization', `Bearer ${t.key}, Bearer ${t.key}`],
      ['Content-Type', 'application/json'],
    ]),
    post('a foreign Origin', 'ORIGIN_NOT_ALLOWED', 403, (t) => [...json(t), ['Origin', 'https://evil.example']]),
    post('Origin null', 'ORIGIN_NOT_ALLOWED', 403, (t) => [...json(t), ['Origin', 'null']]),
    post('a loopback look-alike Origin', 'ORIGIN_NOT_ALLOWED', 403, (t) => [
      ...json(t),
      ['Origin', 'http://127.0.0.1.evil.example'],
    ]),
    raw('POST /graphql with a foreign Host', 'HOST_NOT_ALLOWED', 421, (t) => ({
      target: '/graphql',
      framing: 'as-given',
      headers: [['Host', 'evil.example'], ...json(t), ['Content-Length', String(VALID_BODY.length)]],
      body: VALID_BODY,
    })),
    raw('POST /graphql with a loopback look-alike Host', 'HOST_NOT_ALLOWED', 421, (t) => ({
      target: '/graphql',
      framing: 'as-given',
      headers: [['Host', 'localhost.evil.example'], ...json(t), ['Content-Length', String(VALID_BODY.length)]],
      body: VALID_BODY,
    })),
    // One chunk a byte over MAX_REQUEST_BYTES (16 MiB here), and the body never ends: refused as it crosses the limit.
    raw('POST /graphql with a chunked body over MAX_REQUEST_BYTES', 'REQUEST_TOO_LARGE', 413, (t) => ({
      target: '/graphql',
      framing: 'as-given',
      headers: [['Host', `127.0.0.1:${t.port}`], ...json(t), ['Transfer-Encoding', 'chunked']],
      body: `${(16 * MiB + 1).toString(16)}\r\n${'x'.repeat(16 * MiB + 1)}\r\n`,
    })),
    raw('POST /graphql with two different Content-Lengths', 'BAD_REQUEST', 400, (t) => ({
      target: '/graphql',
      framing: 'as-given',
      headers: [['Host', `127.0.0.1:${t.port}`], ...json(t), ['Content-Length', '3'], ['Content-Length', '26']],
      body: VALID_BODY,
    })),
    raw('POST /graphql with Content-Length and chunked (smuggling)', 'BAD_REQUEST', 400, (t) => ({
      target: '/graphql',
      framing: 'as-given',
      headers: [
        ['Host', `127.0.0.1:${t.port}`],
        ...json(t),
        ['Content-Length', String(VALID_BODY.length)],
        ['Transfer-Encoding', 'chunked'],
      ],
      body: `${VALID_BODY.length.toString(16)}\r\n${VALID_BODY}\r\n0\r\n\r\n`,
    })),
    raw('POST /graphql with a negative Content-Length', 'BAD_REQUEST', 400, (t) => ({
      target: '/graphql',
      framing: 'as-given',
      headers: [['Host', `127.0.0.1:${t.port}`], ...json(t), ['Content-Length', '-1']],
    })),
    raw('POST /graphql with a header name holding a space', 'BAD_REQUEST', 400, (t) => ({
      target: '/graphql',
      headers: [...json(t), ['X Bad', '1']],
      body: VALID_BODY,
    })),
    raw('POST /graphql with a 64 KiB header', 'BAD_REQUEST', 431, (t) => ({
      target: '/graphql',
      headers: [...json(t), ['X-Padding', 'p'.repeat(64 * 1024)]],
      body: VALID_BODY,
    })),
    raw('GET /graphql with a 64 KiB query string', 'BAD_REQUEST', 431, (t) => ({
      method: 'GET',
      target: `/graphql?query=${encodeURIComponent(aliases(6_000))}`,
      headers: [auth(t)],
    })),
    raw('a request line in lower case', 'BAD_REQUEST', 400, (t) => ({
      method: 'post',
      target: '/graphql',
      headers: json(t),
      body: VALID_BODY,
    })),
    raw('a request target of *', 'BAD_REQUEST', 400, (t) => ({ method: 'GET', target: '*', headers: [auth(t)] })),
    raw('an absolute request target', 'BAD_REQUEST', 400, (t) => ({
      method: 'GET',
      target: `http://evil.example/graphql?query=${encodeURIComponent('{ __typename }')}`,
      headers: [auth(t)],
    })),
    raw('a path that climbs out', 'BAD_REQUEST', 404, (t) => ({
      method: 'GET',
      target: '/graphql/../../etc/passwd',
      headers: [auth(t)],
    })),
  ];
}

// ---- graphql-ws protocol abuse --------------------------------------------------------------------------------

function wsCases(): HostileCase[] {
  const url = (t: Target) => `ws://127.0.0.1:${t.port}/graphql`;
  /** `frames` go out at once, except that after a first `init(t)` the rest wait for the acknowledgement, as a client does. */
  const conversation = (name: string, code: string, frames: (t: Target) => (string | Buffer)[]): HostileCase => ({
    name: `graphql-ws: ${name}`,
    transport: 'graphql-ws',
    code,
    send: (t) => {
      const [first, ...rest] = frames(t);
      const waits = first === init(t) && rest.length > 0 && rest[0] !== init(t);
      return wsConversation(url(t), waits ? { frames: [first], afterAck: rest } : { frames: frames(t) });
    },
  });
  const subscribe = (
    id: unknown,
    query = 'subscription { instanceStatusChanged(workflowName: "flaky-import", id: "x") { status } }',
  ) => JSON.stringify({ id, type: 'subscribe', payload: { query } });
  return [
    conversation('a frame that is not JSON', 'close 4400', () => ['{']),
    conversation('a binary frame', 'close 4400', () => [Buffer.from([0xff, 0x00, 0x7b])]),
    conversation('a JSON array', 'close 4400', () => ['[]']),
    conversation('JSON null', 'close 4400', () => ['null']),
    conversation('an unknown message type', 'close 4400', () => ['{"type":"hello"}']),
    conversation('a message without a type', 'close 4400', () => ['{"payload":{}}']),
    conversation('subscribe before connection_init', 'close 4401', () => [subscribe('1')]),
    conversation('connection_init twice', 'close 4429', (t) => [init(t), init(t)]),
    conversation('connection_init with a string payload', 'close 4400', () => [
      '{"type":"connection_init","payload":"x"}',
    ]),
    conversation('connection_init without a credential', 'close 4401', () => ['{"type":"connection_init"}']),
    conversation('connection_init with a wrong key', 'close 4401', () => [
      JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer wfgql_wrong' } }),
    ]),
    conversation('connection_init with a key as a number', 'close 4401', () => [
      JSON.stringify({ type: 'connection_init', payload: { authorization: 12345 } }),
    ]),
    conversation('subscribe without an id', 'close 4400', (t) => [init(t), subscribe(undefined)]),
    conversation('subscribe with a numeric id', 'close 4400', (t) => [init(t), subscribe(1)]),
    conversation('subscribe with an empty id', 'close 4400', (t) => [init(t), subscribe('')]),
    conversation('subscribe without a payload', 'close 4400', (t) => [init(t), '{"id":"1","type":"subscribe"}']),
    conversation('subscribe with a query that is a number', 'close 4400', (t) => [
      init(t),
      '{"id":"1","type":"subscribe","payload":{"query":1}}',
    ]),
    conversation('the same id twice', 'close 4409', (t) => [init(t), subscribe('dup'), subscribe('dup')]),
    conversation('a 20 MiB frame', 'close 1009', (t) => [
      init(t),
      `{"type":"ping","payload":"${'x'.repeat(20 * MiB)}"}`,
    ]),
    conversation('complete for an id that never existed, then garbage', 'close 4400', (t) => [
      init(t),
      '{"id":"nope","type":"complete"}',
      '{',
    ]),
    // ws refuses both frames itself (RFC 6455: 1007 for text that is not UTF-8, 1002 for a protocol error) and
    // reports them as errors of the socket, which must reach neither the log as a stack trace nor the client.
    {
      name: 'graphql-ws: a text frame that is not UTF-8',
      transport: 'graphql-ws',
      code: 'close 1007',
      send: (t) =>
        wsConversation(url(t), { frames: [], raw: [maskedFrame(0x8, 0x1, Buffer.from([0x7b, 0xff, 0xfe]))] }),
    },
    {
      name: 'graphql-ws: a frame with reserved bits set',
      transport: 'graphql-ws',
      code: 'close 1002',
      send: (t) => wsConversation(url(t), { frames: [], raw: [maskedFrame(0xa, 0x1, Buffer.from('{}'))] }),
    },
    {
      name: 'graphql-ws: a compressed frame on a connection that agreed on no compression',
      transport: 'graphql-ws',
      code: 'close 1002',
      send: (t) => wsConversation(url(t), { frames: [], raw: [maskedFrame(0xc, 0x1, Buffer.from('{}'))] }),
    },
    {
      name: 'graphql-ws: no subprotocol',
      transport: 'graphql-ws',
      code: 'close 4406',
      send: (t) => wsConversation(url(t), { subprotocol: null, frames: [init(t)] }),
    },
    {
      name: 'graphql-ws: an upgrade from a foreign Origin',
      transport: 'graphql-ws',
      code: 'ORIGIN_NOT_ALLOWED',
      status: 403,
      send: (t) => wsConversation(url(t), { headers: { Origin: 'https://evil.example' }, frames: [init(t)] }),
    },
    {
      name: 'graphql-ws: an upgrade with a foreign Host',
      transport: 'graphql-ws',
      code: 'HOST_NOT_ALLOWED',
      status: 421,
      send: (t) => wsConversation(url(t), { headers: { Host: 'evil.example' }, frames: [init(t)] }),
    },
  ];
}

// ---- graphql-sse single-connection mode -------------------------------------------------------------------------

function sseCases(): HostileCase[] {
  const stream = (name: string, code: string, status: number, build: (t: Target) => RawRequest) =>
    request(`graphql-sse: ${name}`, code, status, build, 'graphql-sse');
  return [
    stream('a reservation without a credential', 'UNAUTHENTICATED', 401, () => ({
      method: 'PUT',
      target: '/graphql/stream',
    })),
    stream('a stream for token __proto__', 'FORBIDDEN', 403, (t) => ({
      method: 'GET',
      target: '/graphql/stream?token=__proto__',
      headers: [auth(t), ['Accept', 'text/event-stream']],
    })),
    stream('a stream for token constructor', 'FORBIDDEN', 403, (t) => ({
      method: 'GET',
      target: '/graphql/stream?token=constructor',
      headers: [auth(t), ['Accept', 'text/event-stream']],
    })),
    stream('a stream for an unknown token', 'FORBIDDEN', 403, (t) => ({
      method: 'GET',
      target: '/graphql/stream?token=00000000-0000-4000-8000-000000000000',
      headers: [auth(t), ['Accept', 'text/event-stream']],
    })),
    stream('an operation for an unknown token', 'FORBIDDEN', 403, (t) => ({
      target: '/graphql/stream',
      headers: [...json(t), ['X-GraphQL-Event-Stream-Token', 'nope']],
      body: JSON.stringify({
        query: 'subscription { instanceStatusChanged(workflowName: "a", id: "b") { status } }',
        extensions: { operationId: '1' },
      }),
    })),
    stream('an operation for token __proto__', 'FORBIDDEN', 403, (t) => ({
      target: '/graphql/stream',
      headers: [...json(t), ['X-GraphQL-Event-Stream-Token', '__proto__']],
      body: JSON.stringify({ query: '{ __typename }', extensions: { operationId: '1' } }),
    })),
    stream('a stop for token __proto__', 'FORBIDDEN', 403, (t) => ({
      method: 'DELETE',
      target: '/graphql/stream?operationId=1',
      headers: [auth(t), ['X-GraphQL-Event-Stream-Token', '__proto__']],
    })),
    stream('a syntax error over GET', 'GRAPHQL_PARSE_FAILED', 400, (t) => ({
      method: 'GET',
      target: `/graphql/stream?query=${encodeURIComponent('{ x')}`,
      headers: [auth(t), ['Accept', 'text/event-stream']],
    })),
  ];
}

/** The whole corpus, in the order it is sent. */
export function hostileCorpus(): HostileCase[] {
  return [
    ...DOCUMENTS.map(documentOverHttp),
    ...DOCUMENTS.map(documentOverWs),
    ...DOCUMENTS.map(documentOverSse),
    ...httpCases(),
    ...headerCases(),
    ...wsCases(),
    ...sseCases(),
  ];
}
