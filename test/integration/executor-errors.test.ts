import { getOperationAST } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import type { Plugin } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { wsClient } from '../helpers/live.js';
import { startStack, type Stack } from '../helpers/stack.js';

// Issue 17: a bug in the executor (graphql-jit's, test/upstream-bugs/graphql-jit-union-list.md, ended the process)
// must cost one operation, never the process or the other operations. graphql-js never throws out of `execute`, so
// a fault stands in for such a bug: operations named `Throws` or `Rejects` get an executor that fails that way.

/** What the faulty executor's error says: internals a client must never see. */
const INTERNALS = 'executor internals at /srv/app/compiled-query.js';
const faultyExecutor: Plugin = {
  onExecute({ args, setExecuteFn }) {
    const name = getOperationAST(args.document, args.operationName)?.name?.value;
    if (name === 'Throws')
      setExecuteFn(() => {
        throw new TypeError(INTERNALS);
      });
    if (name === 'Rejects') setExecuteFn(() => Promise.reject(new TypeError(INTERNALS)));
  },
};

const FINE = 'query Fine { workflows(first: 3) { nodes { name } } }';
const MASKED = { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] };
const FAULTS = ['Throws', 'Rejects'] as const;

const logged: Record<string, unknown>[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
let stack: Stack;
let url: string;

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  stack = await startStack({
    listen: true,
    plugins: [faultyExecutor],
    // As in production: masked errors carry nothing of the original.
    config: { exposeErrorDetails: false, logLevel: 'error' },
    logger: createLogger('error', [], {
      format: 'json',
      destination: { write: (line: string) => logged.push(JSON.parse(line) as Record<string, unknown>) },
    }),
  });
  url = stack.url as string;
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await stack.stop();
});

async function post(query: string): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, text: await response.text() };
}

const fine = (text: string) => (JSON.parse(text) as { data?: { workflows?: { nodes?: unknown[] } } }).data;

describe('an executor that fails unexpectedly', () => {
  it.each(FAULTS)(
    '%s over HTTP: one failed operation, masked; the operations beside it and after it succeed',
    async (fault) => {
      const before = logged.length;
      const [failed, ...beside] = await Promise.all([
        post(`query ${fault} { workflows(first: 3) { nodes { name } } }`),
        ...Array.from({ length: 5 }, () => post(FINE)),
      ]);
      expect(failed?.status).toBe(500);
      expect(JSON.parse(failed?.text ?? '')).toEqual(MASKED);
      expect(failed?.text).not.toContain('internals');
      for (const answer of beside) {
        expect(answer.status).toBe(200);
        expect(fine(answer.text)?.workflows?.nodes?.length).toBeGreaterThan(0);
      }
      const after = await post(FINE);
      expect(after.status).toBe(200);
      expect(fine(after.text)?.workflows?.nodes?.length).toBeGreaterThan(0);
      // The operator sees what the client does not.
      expect(
        logged.slice(before).some((line) => (line.err as { message?: string } | undefined)?.message === INTERNALS),
      ).toBe(true);
      expect((await fetch(new URL('/healthz', url))).status).toBe(200);
      expect(unhandled).toEqual([]);
    },
  );

  it.each(FAULTS)(
    '%s over graphql-ws: that operation gets the masked error; the socket runs the next one',
    async (fault) => {
      const closes: number[] = [];
      const client = wsClient(stack, (code) => closes.push(code));
      await expectOneFailedOperation(fault, (query) => client.iterate({ query }));
      expect(closes).toEqual([]);
      expect(
        logged.some(
          (line) => line.msg === 'operation failed in the executor' && line.error === `TypeError: ${INTERNALS}`,
        ),
      ).toBe(true);
    },
  );

  it.each(FAULTS)(
    '%s over graphql-sse (one shared stream): that operation gets the masked error; the next one runs',
    async (fault) => {
      const client = createSseClient({ url: `${url}/stream`, singleConnection: true, retryAttempts: 0 });
      try {
        await expectOneFailedOperation(fault, (query) => client.iterate({ query }));
      } finally {
        client.dispose();
      }
    },
  );

  it.each(FAULTS)(
    '%s over an event stream of its own: yoga answers 500 with the masked error as its one event',
    async (fault) => {
      const stream = async (query: string) => {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ query }),
        });
        const events = (await response.text()).split('\n').filter((line) => line.startsWith('data: {'));
        return {
          status: response.status,
          results: events.map((line) => JSON.parse(line.slice('data: '.length)) as unknown),
        };
      };
      expect(await stream(`query ${fault} { workflows(first: 3) { nodes { name } } }`)).toEqual({
        status: 500,
        results: [MASKED],
      });
      const after = await stream(FINE);
      expect(after.status).toBe(200);
      expect(fine(JSON.stringify(after.results[0]))?.workflows?.nodes?.length).toBeGreaterThan(0);
      expect(unhandled).toEqual([]);
    },
  );
});

/** Runs the faulty operation, then a fine one, through `iterate` (one client: one socket or stream). */
async function expectOneFailedOperation(fault: string, iterate: (query: string) => AsyncIterable<unknown>) {
  const results = async (query: string) => {
    const all: unknown[] = [];
    for await (const result of iterate(query)) all.push(result);
    return all;
  };
  const failed = await results(`query ${fault} { workflows(first: 3) { nodes { name } } }`);
  expect(failed).toEqual([MASKED]);
  expect(JSON.stringify(failed)).not.toContain('internals');
  const [after] = (await results(FINE)) as [{ data?: { workflows?: { nodes?: unknown[] } } }];
  expect(after.data?.workflows?.nodes?.length).toBeGreaterThan(0);
  expect(unhandled).toEqual([]);
}
