import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptedListLengths } from '../../src/schema/list-limits.js';
import { MAX_VARIABLE_DEPTH, refusedListLength } from '../../src/transport/request-errors.js';
import { startStack, type Stack } from '../helpers/stack.js';

let stack: Stack;
let url: URL;
/** The longest list of `itemType` items not refused before coercion: twice what its argument accepts. */
let bound: (itemType: string) => number;

beforeAll(async () => {
  stack = await startStack({ listen: true, config: { production: true, exposeErrorDetails: false } });
  url = new URL(stack.url as string);
  const accepted = acceptedListLengths(stack.config);
  bound = (itemType) => refusedListLength(accepted.get(itemType) ?? Number.NaN);
});
afterAll(() => stack.stop());

interface Answer {
  readonly status: number;
  readonly body: string;
}

function post(path: string, body: string, accept: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json', accept, 'content-length': String(Buffer.byteLength(body)) };
    const req = request(new URL(path, url), { method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Refusal {
  readonly errors: { message: string; extensions?: { code?: string } }[];
  readonly data?: unknown;
}

/** The GraphQL result of an answer: the JSON body, or the data of the first `next` event of an SSE stream. */
function resultOf(answer: Answer): Refusal {
  const event = /^data: (.*)$/m.exec(answer.body)?.[1];
  return JSON.parse(event ?? answer.body) as Refusal;
}

const NODES = 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }';
const CREATE = 'mutation ($input: CreateInstancesInput!) { createInstances(input: $input) { __typename } }';
/** Built as text: JSON.stringify of millions of items would cost the test more than the server. */
const nodesBody = (count: number) =>
  `{"query":${JSON.stringify(NODES)},"variables":{"ids":[${'"x",'.repeat(count - 1)}"x"]}}`;
const createBody = (count: number) =>
  `{"query":${JSON.stringify(CREATE)},"variables":{"input":{"workflowName":"order-fulfillment","instances":[${'{},'.repeat(count - 1)}{}]}}}`;

const JSON_ACCEPT = 'application/graphql-response+json';

function expectListRefusal(answer: Answer, path: string, itemType: string): void {
  const result = resultOf(answer);
  expect(result.data).toBeUndefined();
  expect(result.errors).toEqual([
    expect.objectContaining({
      message: `${path} holds more than ${bound(itemType)} items, far more than its argument accepts.`,
      extensions: { code: 'BAD_USER_INPUT' },
    }),
  ]);
  expect(stack.upstreamCalls()).toBe(0);
}

describe('lists in variables far beyond any limit are refused before they are processed (issue 12)', () => {
  beforeAll(() => stack.resetCalls());

  it('refuses nodes with 3,500,000 ids on POST /graphql', async () => {
    const answer = await post('/graphql', nodesBody(3_500_000), JSON_ACCEPT);
    expect(answer.status).toBe(400);
    expectListRefusal(answer, '$ids', 'ID');
  });

  it('refuses nodes with 3,500,000 ids on POST /graphql/stream', async () => {
    const answer = await post('/graphql/stream', nodesBody(3_500_000), 'text/event-stream');
    expectListRefusal(answer, '$ids', 'ID');
  });

  it('refuses createInstances with 4,000,000 items, a list inside an input object, and creates nothing', async () => {
    const answer = await post('/graphql', createBody(4_000_000), JSON_ACCEPT);
    expect(answer.status).toBe(400);
    expectListRefusal(answer, '$input.instances', 'CreateInstanceItemInput');
  });

  it('refuses an input object with 1,000,000 members its type does not declare', async () => {
    const members = Array.from({ length: 1_000_000 }, (_, i) => `"k${i}":1`).join(',');
    const body = `{"query":${JSON.stringify(CREATE)},"variables":{"input":{"workflowName":"w","instances":[{}],${members}}}}`;
    const answer = await post('/graphql', body, JSON_ACCEPT);
    expect(answer.status).toBe(400);
    expect(resultOf(answer).errors).toEqual([
      expect.objectContaining({
        message: '$input has more than 4 members; CreateInstancesInput has 2 fields.',
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('leaves a misspelt member to graphql-js, which suggests the right one', async () => {
    const variables = { input: { workflowName: 'w', instances: [{}], instancez: [] } };
    const result = resultOf(await post('/graphql', JSON.stringify({ query: CREATE, variables }), JSON_ACCEPT));
    expect(result.errors).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('Did you mean "instances"?') as unknown,
        extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) as unknown,
      }),
    ]);
  });

  it('leaves a list a little over a field limit to that field, which answers in its own words', async () => {
    const result = resultOf(await post('/graphql', nodesBody(bound('ID')), JSON_ACCEPT));
    expect(result.errors).toEqual([
      expect.objectContaining({
        message: `\`ids\` may hold at most 100 ids (got ${bound('ID')}).`,
        extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) as unknown,
      }),
    ]);
    expectListRefusal(await post('/graphql', nodesBody(bound('ID') + 1), JSON_ACCEPT), '$ids', 'ID');
  });

  it('refuses a long list of statuses given as one variable of an enum list', async () => {
    const query =
      'subscription ($s: [InstanceStatus!]) { workflowInstancesChanged(workflowName: "w", statuses: $s) { __typename } }';
    const statuses = `[${'"QUEUED",'.repeat(bound('InstanceStatus'))}"QUEUED"]`;
    const answer = await post(
      '/graphql/stream',
      `{"query":${JSON.stringify(query)},"variables":{"s":${statuses}}}`,
      'text/event-stream',
    );
    expectListRefusal(answer, '$s', 'InstanceStatus');
  });
});

describe('values nested too deep', () => {
  /** `[[…1…]]`, `levels` deep: two tokens a level, so 600 levels fit the default 2,000 tokens. */
  const nestedList = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;
  // The input object is the argument value's first level; `params` nests below it.
  const inline = (levels: number) =>
    JSON.stringify({
      query: `mutation { createInstance(input: { workflowName: "order-fulfillment", params: ${nestedList(levels - 1)} }) { __typename } }`,
    });
  const CREATE_ONE =
    'mutation ($p: JSON) { createInstance(input: { workflowName: "order-fulfillment", params: $p }) { __typename } }';
  const asVariable = (levels: number) =>
    `{"query":${JSON.stringify(CREATE_ONE)},"variables":{"p":${nestedList(levels)}}}`;

  it(`refuses a value written in the document more than ${MAX_VARIABLE_DEPTH} levels deep, as one in a variable`, async () => {
    stack.resetCalls();
    for (const body of [inline(MAX_VARIABLE_DEPTH + 1), asVariable(MAX_VARIABLE_DEPTH + 1)]) {
      const answer = await post('/graphql', body, JSON_ACCEPT);
      expect(answer.status).toBe(400);
      expect(resultOf(answer).errors).toEqual([
        expect.objectContaining({
          message: `Values may nest arrays and objects at most ${MAX_VARIABLE_DEPTH} levels deep.`,
          extensions: { code: 'BAD_USER_INPUT' },
        }),
      ]);
    }
    expect(stack.upstreamCalls()).toBe(0);
  });

  it(`accepts values ${MAX_VARIABLE_DEPTH} levels deep, written or in a variable`, async () => {
    for (const body of [inline(MAX_VARIABLE_DEPTH), asVariable(MAX_VARIABLE_DEPTH)]) {
      const result = resultOf(await post('/graphql', body, JSON_ACCEPT));
      expect(result).toEqual({ data: { createInstance: { __typename: 'CreateInstancePayload' } } });
    }
  });
});
