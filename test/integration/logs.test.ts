import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../../src/logger.js';
import {
  InstanceStatusChangedDocument as STATUS,
  WorkflowAndInstanceDocument,
  WorkflowNameDocument,
  WriteCreateInstanceDocument as CREATE,
} from '../generated/operations.js';
import { freshId } from '../helpers/instances.js';
import { subscribe } from '../helpers/live.js';
import { maskedFrame } from '../hostile/probe.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/** The lines of the server's real logger (src/logger.ts) in JSON, as written, and each parsed. */
const written: string[] = [];
type Line = Record<string, unknown>;
const lines = (): Line[] => written.map((text) => JSON.parse(text) as Line);
const OPERATION_MESSAGES = new Set(['operation', 'subscription started', 'subscription ended']);
/** The operation lines of one request id (other lines written during the operation carry its id too). */
const operationLines = (requestId: string) =>
  lines().filter((l) => l.requestId === requestId && OPERATION_MESSAGES.has(l.msg as string));

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DETAILS = /\/instances\/\{instance_id\}$/;
const WORKFLOW = 'order-fulfillment';

let stack: Stack;
let url: string;

beforeAll(async () => {
  stack = await startStack({
    listen: true,
    logger: createLogger('debug', [], { format: 'json', destination: { write: (line: string) => written.push(line) } }),
    // One retry, so that a failing call's retry shows in the line; a fast poll for the subscription.
    config: { logLevel: 'debug', upstream: { maxRetries: 1 }, pollIntervalMs: 50 },
  });
  url = stack.url as string;
});
afterAll(() => stack.stop());

/** POSTs an operation over real HTTP; returns the response's `x-request-id` and body. */
async function post(
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ requestId: string | null; body: { data?: unknown; errors?: { extensions?: { code?: string } }[] } }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { requestId: response.headers.get('x-request-id'), body: (await response.json()) as never };
}

describe('the operation line', () => {
  it('of a mutation refused because it came with GET: its type and name, rejected, BAD_REQUEST', async () => {
    const target = new URL(url);
    target.searchParams.set(
      'query',
      'mutation Refused { pauseInstance(input: { workflowName: "x", instanceId: "y" }) { __typename } }',
    );
    const response = await fetch(target, { headers: { 'x-request-id': 'get-mutation-1' } });
    expect(response.status).toBe(405);
    await response.body?.cancel();
    expect(operationLines('get-mutation-1')).toEqual([
      expect.objectContaining({
        operationType: 'mutation',
        operationName: 'Refused',
        outcome: 'rejected',
        errorCodes: ['BAD_REQUEST'],
        upstreamCalls: 0,
      }),
    ]);
  });

  it('of a query: request id, name, type, duration, upstream calls as the emulator counted them, cost, success, principal', async () => {
    stack.resetCalls();
    const { requestId, body } = await post(print(WorkflowNameDocument), { name: WORKFLOW }, { 'x-request-id': 'q-1' });
    expect(body.errors).toBeUndefined();
    expect(requestId).toBe('q-1');
    const [line, ...others] = operationLines('q-1');
    expect(others).toEqual([]);
    expect(line).toMatchObject({
      level: 'info',
      msg: 'operation',
      requestId: 'q-1',
      operationName: 'WorkflowName',
      operationType: 'query',
      upstreamCalls: stack.upstreamCalls(),
      upstreamRetries: 0,
      cost: 1,
      outcome: 'success',
      principal: 'anonymous',
    });
    expect(stack.upstreamCalls()).toBe(1);
    expect(line?.durationMs).toEqual(expect.any(Number));
    expect(line).not.toHaveProperty('errorCodes');
  });

  it('of a mutation: type mutation, and the audit line it writes carries the same request id', async () => {
    const instanceId = freshId('logs');
    stack.resetCalls();
    const { body } = await post(
      print(CREATE),
      { input: { workflowName: WORKFLOW, instanceId } },
      { 'x-request-id': 'm-1' },
    );
    expect(body.errors).toBeUndefined();
    const operation = operationLines('m-1');
    expect(operation).toHaveLength(1);
    expect(operation[0]).toMatchObject({
      operationName: 'WriteCreateInstance',
      operationType: 'mutation',
      outcome: 'success',
      upstreamCalls: stack.upstreamCalls(),
      principal: 'anonymous',
    });
    const audit = lines().filter((l) => l.msg === 'audit' && l.instanceId === instanceId);
    expect(audit).toEqual([
      expect.objectContaining({
        requestId: 'm-1',
        principal: 'anonymous',
        action: 'createInstance',
        workflowName: WORKFLOW,
        outcome: 'ok',
      }),
    ]);
  });

  it('of a failing query: outcome error with the codes the client got, and the retry it made', async () => {
    const ids = (
      await post('query { workflow(name: "order-fulfillment") { instances(first: 1) { nodes { instanceId } } } }', {})
    ).body as {
      data: { workflow: { instances: { nodes: { instanceId: string }[] } } };
    };
    const id = ids.data.workflow.instances.nodes[0]?.instanceId as string;
    stack.emulator.faults.set({ route: DETAILS, errorRate: 1 });
    try {
      stack.resetCalls();
      const { body } = await post(
        print(WorkflowAndInstanceDocument),
        { workflowName: WORKFLOW, id },
        { 'x-request-id': 'f-1' },
      );
      expect(body.errors?.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expect(operationLines('f-1')).toEqual([
        expect.objectContaining({
          operationName: 'WorkflowAndInstance',
          operationType: 'query',
          outcome: 'error',
          errorCodes: ['UPSTREAM_UNAVAILABLE'],
          upstreamRetries: 1,
        }),
      ]);
      const [line] = operationLines('f-1');
      // The retry's own line, written inside the operation, carries its request id.
      expect(lines().filter((l) => l.requestId === 'f-1' && l.msg === 'retrying an upstream call')).toHaveLength(1);
      // Every request the emulator saw was a call of this operation or its retry.
      expect((line?.upstreamCalls as number) + (line?.upstreamRetries as number)).toBe(stack.upstreamCalls());
    } finally {
      stack.emulator.faults.clear();
    }
  });

  it('of two queries sharing one read in flight: the request counts for the query that sent it, not the one that joined', async () => {
    // Answered late, so that the second query joins the first one's request while it is in flight.
    stack.emulator.faults.set({ route: 'GET /accounts/{account_id}/workflows/{workflow_name}', latencyMs: 1_500 });
    try {
      stack.resetCalls();
      const stats = () => stack.app.upstream.stats.snapshot();
      const { byRoute, deduplicated } = stats();
      const sent = byRoute['GET /workflows/{name}'] ?? 0;
      const first = post(print(WorkflowNameDocument), { name: WORKFLOW }, { 'x-request-id': 'd-1' });
      await waitFor(() => (stats().byRoute['GET /workflows/{name}'] ?? 0) > sent, {
        message: 'the first request sent',
      });
      const second = post(print(WorkflowNameDocument), { name: WORKFLOW }, { 'x-request-id': 'd-2' });
      for (const { body } of await Promise.all([first, second])) expect(body.errors).toBeUndefined();
      expect(stats().deduplicated - deduplicated).toBe(1);
      expect(stack.upstreamCalls()).toBe(1);
      expect(operationLines('d-1')).toEqual([expect.objectContaining({ msg: 'operation', upstreamCalls: 1 })]);
      expect(operationLines('d-2')).toEqual([expect.objectContaining({ msg: 'operation', upstreamCalls: 0 })]);
    } finally {
      stack.emulator.faults.clear();
    }
  });

  it('of a mutation over graphql-ws and over graphql-sse: its upstream calls, and its audit line by its request id', async () => {
    const transports: Record<string, (body: string, requestId: string) => Promise<unknown>> = {
      'graphql-ws': async (body, requestId) => {
        class WithRequestId extends WebSocket {
          constructor(address: string, protocols?: string | string[]) {
            super(address, protocols, { headers: { 'x-request-id': requestId } });
          }
        }
        const client = createClient({
          url: url.replace(/^http/, 'ws'),
          webSocketImpl: WithRequestId,
          retryAttempts: 0,
        });
        try {
          return await new Promise((resolve, reject) => {
            client.subscribe(JSON.parse(body) as { query: string }, {
              next: resolve,
              error: reject,
              complete: () => {},
            });
          });
        } finally {
          await client.dispose();
        }
      },
      // src/transport/sse.ts, distinct connections.
      'graphql-sse': async (body, requestId) => {
        const response = await fetch(`${url}/stream`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-request-id': requestId },
          body,
        });
        const data = /event: next\ndata: (.*)\n/.exec(await response.text())?.[1];
        return data === undefined ? undefined : JSON.parse(data);
      },
    };
    for (const [transport, send] of Object.entries(transports)) {
      const instanceId = freshId('logs-transport');
      const requestId = `m-${transport}`;
      stack.resetCalls();
      const body = JSON.stringify({
        query: print(CREATE),
        variables: { input: { workflowName: WORKFLOW, instanceId } },
      });
      expect(await send(body, requestId), transport).toEqual({
        data: { createInstance: expect.objectContaining({ __typename: 'CreateInstancePayload' }) },
      });
      expect(stack.upstreamCalls(), transport).toBeGreaterThan(0);
      expect(operationLines(requestId), transport).toEqual([
        expect.objectContaining({
          operationType: 'mutation',
          outcome: 'success',
          upstreamCalls: stack.upstreamCalls(),
        }),
      ]);
      const audit = lines().filter((l) => l.msg === 'audit' && l.instanceId === instanceId);
      expect(audit, transport).toEqual([
        expect.objectContaining({ requestId, action: 'createInstance', outcome: 'ok' }),
      ]);
    }
  });

  it('of refused operations: the code of a document that does not validate, and of one over the cost limit', async () => {
    await post('query Nope { nope }', {}, { 'x-request-id': 'v-1' });
    expect(operationLines('v-1')).toEqual([
      expect.objectContaining({
        operationName: 'Nope',
        operationType: 'query',
        outcome: 'rejected',
        errorCodes: ['GRAPHQL_VALIDATION_FAILED'],
        upstreamCalls: 0,
      }),
    ]);
    await post('query Parse {', {}, { 'x-request-id': 'p-1' });
    expect(operationLines('p-1')).toEqual([
      expect.objectContaining({ outcome: 'rejected', errorCodes: ['GRAPHQL_PARSE_FAILED'], upstreamCalls: 0 }),
    ]);
    // 110,101 estimated requests against the default limit of 1,000.
    const costly =
      'query Costly { workflows(first: 100) { nodes { instances(first: 100) { nodes { steps { ... on DoStep { output } } } } } } }';
    await post(costly, {}, { 'x-request-id': 'c-1' });
    expect(operationLines('c-1')).toEqual([
      expect.objectContaining({
        operationName: 'Costly',
        outcome: 'rejected',
        errorCodes: ['QUERY_TOO_EXPENSIVE'],
        cost: 110_101,
        upstreamCalls: 0,
      }),
    ]);
  });

  it('of a subscription over graphql-ws: one when it starts, one when it ends, with the connection request id', async () => {
    const instanceId = freshId('logs-sub');
    await stack.graphql(CREATE, { input: { workflowName: WORKFLOW, instanceId } });
    stack.resetCalls();
    // The upgrade request's x-request-id names the connection; the 101 answer echoes it.
    const upgradeHeaders: Record<string, string | string[] | undefined>[] = [];
    class WithRequestId extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { 'x-request-id': 'ws-1' } });
        this.once('upgrade', (response) => upgradeHeaders.push(response.headers));
      }
    }
    // test/helpers/live.ts' wsClient sets no headers: a client of our own, disposed by hand.
    const own = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WithRequestId, retryAttempts: 0 });
    try {
      const sub = subscribe(own, STATUS, { workflowName: WORKFLOW, instanceId });
      await waitFor(() => sub.results.length > 0, { message: 'the first status event' });
      expect(upgradeHeaders[0]?.['x-request-id']).toBe('ws-1');
      const started = operationLines('ws-1').filter((l) => l.msg === 'subscription started');
      expect(started).toEqual([
        expect.objectContaining({
          operationName: 'InstanceStatusChanged',
          operationType: 'subscription',
          outcome: 'success',
          principal: 'anonymous',
          cost: expect.any(Number),
          upstreamCalls: 0,
        }),
      ]);
      // The first event came from the poll loop this subscription started, through its context's API.
      expect(stack.upstreamCalls()).toBeGreaterThan(0);
      sub.unsubscribe();
      await waitFor(() => operationLines('ws-1').some((l) => l.msg === 'subscription ended'), {
        message: 'the subscription ended line',
      });
      const ended = operationLines('ws-1').filter((l) => l.msg === 'subscription ended');
      expect(ended).toEqual([
        expect.objectContaining({
          operationName: 'InstanceStatusChanged',
          operationType: 'subscription',
          outcome: 'success',
          events: sub.results.length,
          // The loop's polls are no subscriber's (README, Logs).
          upstreamCalls: 0,
        }),
      ]);
    } finally {
      await own.dispose();
    }
  });
});

describe('x-request-id', () => {
  it('is generated, and echoed, when the request has none or one that is too long or holds unsafe characters', async () => {
    for (const incoming of [undefined, 'x'.repeat(129), 'a b', 'id\u00e9', '{"json":1}']) {
      const { requestId } = await post(
        print(WorkflowNameDocument),
        { name: WORKFLOW },
        incoming === undefined ? {} : { 'x-request-id': incoming },
      );
      expect(requestId).toMatch(UUID);
      expect(operationLines(requestId as string)).toHaveLength(1);
      if (incoming !== undefined) expect(written.some((line) => line.includes(incoming))).toBe(false);
    }
  });

  it('is kept as sent when it is 1 to 128 letters, digits and -_.:', async () => {
    for (const incoming of [
      '0f8fad5b-d9cb-469f-a165-70867728950e',
      'ULID01ARZ3NDEKTSV4RRFFQ69G5FAV',
      'a:b.c_d',
      'x'.repeat(128),
    ]) {
      const { requestId } = await post(print(WorkflowNameDocument), { name: WORKFLOW }, { 'x-request-id': incoming });
      expect(requestId).toBe(incoming);
      expect(operationLines(incoming)).toHaveLength(1);
    }
  });
});

describe('LOG_FORMAT=json', () => {
  it('writes one JSON object per line, each with level, time and msg', () => {
    expect(written.length).toBeGreaterThan(10);
    for (const text of written) {
      expect(text.endsWith('\n')).toBe(true);
      expect(text.slice(0, -1)).not.toContain('\n');
      const line = JSON.parse(text) as Line;
      expect(line).toMatchObject({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) });
      expect(Number.isNaN(Date.parse(line.time as string))).toBe(false);
    }
  });
});

describe('graphql-ws errors', () => {
  it('go through the logger for bad frames, never to the console or straight to stderr', async () => {
    const printed: string[] = [];
    const restore: (() => void)[] = [];
    const stderrWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => {
      printed.push(`stderr: ${String(chunk)}`);
      return true;
    }) as typeof process.stderr.write;
    restore.push(() => (process.stderr.write = stderrWrite));
    for (const method of ['error', 'warn', 'log', 'info', 'debug', 'trace'] as const) {
      const original = console[method];
      console[method] = (...args: unknown[]) => printed.push(`console.${method}: ${args.map(String).join(' ')}`);
      restore.push(() => (console[method] = original));
    }
    const before = written.length;
    try {
      const wsUrl = url.replace(/^http/, 'ws');
      const closes: number[] = [];
      const conversation = async (send: (socket: WebSocket) => void) => {
        const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
        socket.on('error', () => undefined);
        await once(socket, 'open');
        const closed = once(socket, 'close');
        send(socket);
        const [code] = (await closed) as [number];
        closes.push(code);
      };
      // Not JSON; an unknown message type; a subscribe before connection_init; two connection_inits.
      await conversation((s) => s.send('{not json'));
      await conversation((s) => s.send(JSON.stringify({ type: 'nonsense' })));
      await conversation((s) =>
        s.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: '{ __typename }' } })),
      );
      await conversation((s) => {
        s.send(JSON.stringify({ type: 'connection_init' }));
        s.send(JSON.stringify({ type: 'connection_init' }));
      });
      // A text frame that is not UTF-8, and a frame with a reserved bit set: ws refuses both and emits `error`.
      await conversation((s) =>
        (s as unknown as { _socket: Socket })._socket.write(maskedFrame(0x8, 0x1, Buffer.from([0xff, 0xfe]))),
      );
      await conversation((s) =>
        (s as unknown as { _socket: Socket })._socket.write(maskedFrame(0xc, 0x1, Buffer.from('{}'))),
      );
      expect(closes).toEqual([4400, 4400, 4401, 4429, 1007, 1002]);
      await waitFor(
        () =>
          lines()
            .slice(before)
            .filter((l) => l.msg === 'WebSocket client sent a frame ws refused').length === 2,
        {
          message: 'the two refused frames in the log',
        },
      );
    } finally {
      for (const undo of restore) undo();
    }
    expect(printed).toEqual([]);
    const refused = lines()
      .slice(before)
      .filter((l) => l.msg === 'WebSocket client sent a frame ws refused');
    // The client's mistake: debug, with name and message and no stack.
    expect(refused.map((l) => l.level)).toEqual(['debug', 'debug']);
    expect(JSON.stringify(refused)).not.toMatch(/\.[cm]?[jt]s:\d+:\d+/);
  });
});

describe('the logger', () => {
  const TOKEN = 'registered-upstream-token-0123456789';
  const SECRET = 'registered-jwt-secret-0123456789abcdef';
  const KEY = 'wfgql_AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjj';
  const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl';
  const CLIENT_TOKEN = 'unregistered-client-token-9876543210';

  for (const format of ['json', 'pretty'] as const) {
    it(`(${format}) writes no registered secret, key, JWT or Authorization value, wherever a call puts one`, () => {
      const out: string[] = [];
      const logger = createLogger('debug', [TOKEN, SECRET], {
        format,
        destination: { write: (l: string) => out.push(l) },
      });
      const error = new Error(`upstream refused ${TOKEN} and ${KEY}`);
      logger.error(`message with ${TOKEN}, ${SECRET}, ${KEY} and ${JWT}`, error);
      logger.warn({ authorization: `Bearer ${CLIENT_TOKEN}`, headers: { authorization: CLIENT_TOKEN } }, 'fields');
      logger.info(
        { request: { headers: { authorization: CLIENT_TOKEN, cookie: CLIENT_TOKEN } }, apiToken: TOKEN },
        'x',
      );
      logger.debug({ nested: { deeper: [`${SECRET}`, { err: error }] }, token: CLIENT_TOKEN, jwt: JWT }, 'deep');
      logger.info(`the header was Bearer ${CLIENT_TOKEN}`);
      logger.child({ secret: SECRET }).info('child');
      expect(out).toHaveLength(6);
      const text = out.join('');
      for (const secret of [TOKEN, SECRET, KEY, JWT, CLIENT_TOKEN]) expect(text).not.toContain(secret);
      // What is kept: the message's words and the error's type.
      expect(text).toContain('message with');
      expect(text).toContain('upstream refused');
      expect(text).toContain('[REDACTED]');
    });
  }
});
