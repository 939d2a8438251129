import { execute } from '@graphql-tools/executor';
import { GraphQLInt, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import type { Scope } from '../../src/auth/principal.js';
import { EventQueue } from '../../src/subscriptions/event-queue.js';
import {
  shareExecution,
  useSharedSubscriptionExecution,
  type EventExecutor,
  type ExecutionScope,
} from '../../src/subscriptions/shared-execution.js';
import type { LiveItem } from '../../src/subscriptions/types.js';
import { waitFor } from '../helpers/wait.js';

// The plugin at its own boundary, in a real yoga: src/app.ts's server has no executor that could throw on an event
// (graphql-tools' `execute` puts errors in the result), so a faulty one stands in for an executor bug here, as in
// test/integration/executor-errors.test.ts. The subscriptions of the real schema: test/integration/live-shared-execution.test.ts.

type Item = LiveItem<number>;

/** A `tick(room)` subscription whose every subscriber gets a queue of its own, kept here to push items into. */
function tickServer(executeEvent: EventExecutor) {
  const queues: EventQueue<Item>[] = [];
  const closed: EventQueue<Item>[] = [];
  const Tick = new GraphQLObjectType({
    name: 'Tick',
    fields: { n: { type: new GraphQLNonNull(GraphQLInt), resolve: (item: Item) => item.value } },
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString, resolve: () => 'ok' } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        tick: {
          type: Tick,
          args: { room: { type: new GraphQLNonNull(GraphQLString) } },
          subscribe: (_root, _args, context: ExecutionScope) => {
            const queue: EventQueue<Item> = new EventQueue<Item>({
              keyOf: () => 'tick',
              coalesce: (_older, newer) => newer,
              onClose: () => closed.push(queue),
            });
            queues.push(queue);
            return shareExecution(context, queue);
          },
          resolve: (item: Item) => item,
        },
      },
    }),
  });
  const scope: ExecutionScope = {
    api: { credential: { key: 'credential' } },
    principal: { scopes: new Set<Scope>(['workflows:read']), workflows: null },
  };
  const yoga = createYoga({
    schema,
    logging: false,
    // Each operation a context of its own, as src/context.ts makes them.
    context: () => ({ ...scope }),
    plugins: [useSharedSubscriptionExecution({ execute: executeEvent })],
  });
  /** The `data:` payloads of a subscription over one event stream, until it ends. */
  const subscribe = async (room: string): Promise<unknown[]> => {
    const response = await yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription ($room: String!) { tick(room: $room) { n } }', variables: { room } }),
    });
    const text = await response.text();
    return text
      .split('\n')
      .filter((line) => line.startsWith('data: {'))
      .map((line) => JSON.parse(line.slice('data: '.length)) as unknown);
  };
  return { queues, closed, subscribe };
}

describe('useSharedSubscriptionExecution', () => {
  it('executes an event once for the subscribers who cannot get different answers, and once more for another room', async () => {
    const executions: unknown[] = [];
    const server = tickServer((args) => {
      executions.push(args.variableValues);
      return execute(args);
    });
    const streams = [server.subscribe('a'), server.subscribe('a'), server.subscribe('b')];
    await waitFor(() => server.queues.length === 3, { message: 'three subscriptions set up' });
    // The live streams share their items (src/subscriptions/live-streams.ts): one item object for every subscriber.
    const item: Item = { value: 7 };
    for (const queue of server.queues) {
      queue.push(item);
      queue.end();
    }
    expect(await Promise.all(streams)).toEqual([
      [{ data: { tick: { n: 7 } } }],
      [{ data: { tick: { n: 7 } } }],
      [{ data: { tick: { n: 7 } } }],
    ]);
    expect(executions).toEqual([{ room: 'a' }, { room: 'b' }]);
  });

  it('fails the operations of a group whose executor throws, masked, and they leave their live streams', async () => {
    let calls = 0;
    const server = tickServer(() => {
      calls += 1;
      throw new TypeError('executor internals at /srv/app/compiled-query.js');
    });
    const streams = [server.subscribe('a'), server.subscribe('a')];
    await waitFor(() => server.queues.length === 2, { message: 'two subscriptions set up' });
    const item: Item = { value: 1 };
    for (const queue of server.queues) queue.push(item);
    const answers = await Promise.all(streams);
    for (const events of answers) {
      expect(events).toEqual([
        { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] },
      ]);
      expect(JSON.stringify(events)).not.toContain('internals');
    }
    expect(calls).toBe(1);
    // Neither queue was ended by the test: the operations closed them.
    expect(server.closed).toHaveLength(2);
    expect(server.queues.every((queue) => !queue.open)).toBe(true);
  });
});
