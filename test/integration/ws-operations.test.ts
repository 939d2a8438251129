import type { Client, FormattedExecutionResult } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wsClient } from '../helpers/live.js';
import { startStack, type Stack } from '../helpers/stack.js';

// graphql-ws carries queries and mutations as well as subscriptions. Mutations were refused over it ("Can only
// perform a mutation operation from a POST request": yoga saw the upgrade's GET), and errors carried yoga's
// `extensions.http`, which only means something in an HTTP answer.
const WORKFLOW = 'order-fulfillment';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ listen: true });
});
afterAll(() => stack.stop());

/** Runs one operation over the socket and returns its only result. */
async function run(client: Client, query: string): Promise<FormattedExecutionResult<Record<string, unknown>, unknown>> {
  const results: FormattedExecutionResult<Record<string, unknown>, unknown>[] = [];
  for await (const result of client.iterate({ query })) results.push(result);
  expect(results).toHaveLength(1);
  return results[0] as FormattedExecutionResult<Record<string, unknown>, unknown>;
}

describe('operations over graphql-ws', () => {
  it('runs a mutation: the instance is created upstream', async () => {
    const result = await run(
      wsClient(stack),
      `mutation { createInstance(input: { workflowName: "${WORKFLOW}", instanceId: "over-ws-1" }) {
        __typename ... on CreateInstancePayload { instanceId } } }`,
    );
    expect(result).toEqual({
      data: { createInstance: { __typename: 'CreateInstancePayload', instanceId: 'over-ws-1' } },
    });
    const created = await stack.rest<{ id?: string }>('GET', `/${WORKFLOW}/instances/over-ws-1`);
    expect(created).toMatchObject({ status: expect.any(String) });
  });

  it('answers a field error without extensions.http', async () => {
    const result = await run(wsClient(stack), `{ workflow(name: "not a name") { name } }`);
    expect(result.errors?.map((e) => e.extensions)).toEqual([expect.objectContaining({ code: 'BAD_USER_INPUT' })]);
    expect(JSON.stringify(result)).not.toContain('"http"');
  });

  it('answers a validation error without extensions.http', async () => {
    const client = wsClient(stack);
    const errors = await new Promise<unknown>((resolve) => {
      client.subscribe({ query: '{ nope }' }, { next: () => undefined, error: resolve, complete: () => undefined });
    });
    expect(errors).toEqual([expect.objectContaining({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })]);
  });

  it('finishes a mutation in flight before a shutdown closes the socket: the client gets its outcome', async () => {
    let sent!: () => void;
    const posted = new Promise<void>((resolve) => (sent = resolve));
    const slow = await startStack({
      listen: true,
      emulator: { latencyMs: 500 },
      interceptUpstream: ({ method }) => {
        if (method === 'POST') sent();
        return 'forward';
      },
    });
    try {
      const result = run(
        wsClient(slow),
        `mutation { createInstance(input: { workflowName: "${WORKFLOW}", instanceId: "during-stop" }) {
          __typename ... on CreateInstancePayload { instanceId } } }`,
      );
      await posted;
      const stopped = slow.app.stop();
      expect(await result).toEqual({
        data: { createInstance: { __typename: 'CreateInstancePayload', instanceId: 'during-stop' } },
      });
      await stopped;
    } finally {
      await slow.stop();
    }
  });
});
