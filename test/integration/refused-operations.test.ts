import type { GraphQLFormattedError } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient, type SubscribePayload } from 'graphql-ws';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../../src/logger.js';
import { freshId } from '../helpers/instances.js';
import { scrape, type Scrape } from '../helpers/metrics.js';
import { startStack, type GraphQLResult, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// Operations refused before they run by trusted documents (PERSISTED_QUERY_ONLY, PERSISTED_QUERY_NOT_FOUND) or by
// MAX_SUBSCRIPTIONS_PER_CONNECTION are operations like any other for the operator: each is counted once in
// /metrics (rejected, with its code) and written once as an operation line, whichever transport carried it.

const WORKFLOW = 'order-fulfillment';
const QUERY = 'query Trusted($name: String!) { workflow(name: $name) { name } }';
const SUBSCRIPTION =
  'subscription TrustedStatus($workflowName: String!, $instanceId: String!) { instanceStatusChanged(workflowName: $workflowName, instanceId: $instanceId) { status } }';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

type Result = GraphQLResult<Record<string, unknown>>;
/** What a client sends: a document, or the hash of one. */
type Sent = { query?: string; extensions?: Record<string, unknown> };

const byHash = (document: string): Sent => ({
  extensions: { persistedQuery: { version: 1, sha256Hash: sha256(document) } },
});
const REFUSALS: readonly { readonly code: string; readonly sent: Sent }[] = [
  { code: 'PERSISTED_QUERY_ONLY', sent: { query: '{ workflows(first: 1) { totalCount } }' } },
  { code: 'PERSISTED_QUERY_NOT_FOUND', sent: byHash('query NotInTheManifest { __typename }') },
];

/** The server's log lines, in JSON as written. */
const written: string[] = [];
const OPERATION_MESSAGES = new Set(['operation', 'subscription started', 'subscription ended']);
const operationLines = (requestId: string) =>
  written
    .map((text) => JSON.parse(text) as Record<string, unknown>)
    .filter((line) => line.requestId === requestId && OPERATION_MESSAGES.has(line.msg as string));

const codes = (result: Result | undefined) => (result?.errors ?? []).map((e) => e.extensions?.['code']);

let directory: string;
let stack: Stack;
let url: string;
const metricsUrl = () => url.replace(/\/graphql$/, '/metrics');

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'refused-operations-'));
  const manifest = join(directory, 'persisted-documents.json');
  writeFileSync(manifest, JSON.stringify({ [sha256(QUERY)]: QUERY, [sha256(SUBSCRIPTION)]: SUBSCRIPTION }));
  stack = await startStack({
    listen: true,
    logger: createLogger('info', [], { format: 'json', destination: { write: (line: string) => written.push(line) } }),
    config: {
      logLevel: 'info',
      pollIntervalMs: 50,
      maxSubscriptionsPerConnection: 1,
      trustedDocuments: { mode: 'only', manifest },
    },
  });
  url = stack.url as string;
});
afterAll(async () => {
  await stack.stop();
  rmSync(directory, { recursive: true, force: true });
});

/** A graphql-ws client whose upgrade request carries `x-request-id`, the id of every operation line of its socket. */
function wsClientWithRequestId(requestId: string) {
  class WithRequestId extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: { 'x-request-id': requestId } });
    }
  }
  return createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WithRequestId, retryAttempts: 0 });
}

/** Subscribes (a query or a subscription) and collects its results, and the errors it was refused with. */
function collect(client: { subscribe: ReturnType<typeof createClient>['subscribe'] }, payload: SubscribePayload) {
  const results: Result[] = [];
  let done = false;
  const unsubscribe = client.subscribe(payload, {
    next: (result) => results.push(result as Result),
    error: (errors) => {
      results.push({ errors: errors as GraphQLFormattedError[] });
      done = true;
    },
    complete: () => {
      done = true;
    },
  });
  return {
    results,
    unsubscribe,
    get done() {
      return done;
    },
  };
}

/** Sends `sent` over one transport with `x-request-id: requestId`; the result the client got. */
const TRANSPORTS: Record<string, (sent: Sent, requestId: string) => Promise<Result | undefined>> = {
  'HTTP POST': async (sent, requestId) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify(sent),
    });
    return (await response.json()) as Result;
  },
  'HTTP GET': async (sent, requestId) => {
    const target = new URL(url);
    if (sent.query !== undefined) target.searchParams.set('query', sent.query);
    if (sent.extensions !== undefined) target.searchParams.set('extensions', JSON.stringify(sent.extensions));
    return (await (await fetch(target, { headers: { 'x-request-id': requestId } })).json()) as Result;
  },
  'graphql-ws': async (sent, requestId) => {
    const client = wsClientWithRequestId(requestId);
    try {
      const operation = collect(client, { query: '', ...sent });
      await waitFor(() => operation.done, { message: 'the answer over graphql-ws' });
      return operation.results[0];
    } finally {
      await client.dispose();
    }
  },
  'SSE on /graphql': async (sent, requestId) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': requestId },
      body: JSON.stringify(sent),
    });
    const data = /event: next\ndata: (.*)\n/.exec(await response.text())?.[1];
    return data === undefined ? undefined : (JSON.parse(data) as Result);
  },
  'graphql-sse': async (sent, requestId) => {
    const stream = `${url}/stream`;
    const token = await (await fetch(stream, { method: 'PUT' })).text();
    const response = await fetch(stream, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-graphql-event-stream-token': token, 'x-request-id': requestId },
      body: JSON.stringify({ ...sent, extensions: { ...sent.extensions, operationId: 'refused' } }),
    });
    return (await response.json()) as Result;
  },
};

/** The change of a series between two scrapes. */
const delta = (before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}) =>
  after.sum(name, labels) - before.sum(name, labels);

describe('an operation refused by trusted documents', () => {
  it('is counted once as rejected with its code, and logged once, on every transport', async () => {
    const before = await scrape(metricsUrl());
    const sent: { transport: string; code: string; requestId: string }[] = [];
    for (const [transport, send] of Object.entries(TRANSPORTS)) {
      for (const { code, sent: request } of REFUSALS) {
        const requestId = freshId('refused');
        expect(codes(await send(request, requestId)), `${code} over ${transport}`).toEqual([code]);
        sent.push({ transport, code, requestId });
      }
    }
    const after = await scrape(metricsUrl());

    for (const { code } of REFUSALS) {
      expect(delta(before, after, 'wfgql_graphql_errors_total', { code }), code).toBe(Object.keys(TRANSPORTS).length);
    }
    expect(delta(before, after, 'wfgql_graphql_errors_total')).toBe(sent.length);
    expect(delta(before, after, 'wfgql_graphql_operations_total', { outcome: 'rejected' })).toBe(sent.length);
    expect(delta(before, after, 'wfgql_graphql_operations_total')).toBe(sent.length);
    for (const { transport, code, requestId } of sent) {
      expect(operationLines(requestId), `${code} over ${transport}`).toEqual([
        expect.objectContaining({ msg: 'operation', outcome: 'rejected', errorCodes: [code], upstreamCalls: 0 }),
      ]);
    }
  });
});

describe('a subscription refused by MAX_SUBSCRIPTIONS_PER_CONNECTION', () => {
  it('is counted once as rejected with SUBSCRIPTION_LIMIT, and logged once, over graphql-ws and graphql-sse', async () => {
    const instanceId = freshId('refused-limit');
    await stack.rest('POST', `/${WORKFLOW}/instances`, { instance_id: instanceId });
    const payload = { query: '', ...byHash(SUBSCRIPTION), variables: { workflowName: WORKFLOW, instanceId } };
    const before = await scrape(metricsUrl());

    const ws = wsClientWithRequestId('limit-ws');
    const sse = createSseClient({
      url: `${url}/stream`,
      singleConnection: true,
      retryAttempts: 0,
      headers: { 'x-request-id': 'limit-sse' },
    });
    try {
      for (const client of [ws, sse]) {
        const first = collect(client, payload);
        await waitFor(() => first.results.length > 0, { message: 'the first subscription’s first event' });
        expect(first.results[0]?.data).toBeTruthy();
        const second = collect(client, payload);
        await waitFor(() => second.results.length > 0, { message: 'the refusal of the second subscription' });
        expect(codes(second.results[0])).toEqual(['SUBSCRIPTION_LIMIT']);
        first.unsubscribe();
      }
    } finally {
      await ws.dispose();
      sse.dispose();
    }
    await waitFor(() => stack.app.live.stats().subscribers === 0, { message: 'the subscriptions to end' });
    const after = await scrape(metricsUrl());

    expect(delta(before, after, 'wfgql_graphql_errors_total', { code: 'SUBSCRIPTION_LIMIT' })).toBe(2);
    expect(delta(before, after, 'wfgql_graphql_errors_total')).toBe(2);
    const subscription = { operation_type: 'subscription', operation_name: 'TrustedStatus' };
    expect(delta(before, after, 'wfgql_graphql_operations_total', { ...subscription, outcome: 'rejected' })).toBe(2);
    expect(delta(before, after, 'wfgql_graphql_operations_total', { ...subscription, outcome: 'success' })).toBe(2);
    expect(delta(before, after, 'wfgql_graphql_operations_total')).toBe(4);
    for (const requestId of ['limit-ws', 'limit-sse']) {
      const refused = operationLines(requestId).filter((line) => line.msg === 'operation');
      expect(refused, requestId).toEqual([
        expect.objectContaining({
          operationName: 'TrustedStatus',
          operationType: 'subscription',
          outcome: 'rejected',
          errorCodes: ['SUBSCRIPTION_LIMIT'],
          upstreamCalls: 0,
        }),
      ]);
      expect(
        operationLines(requestId).filter((line) => line.msg === 'subscription started'),
        requestId,
      ).toHaveLength(1);
    }
  });
});
