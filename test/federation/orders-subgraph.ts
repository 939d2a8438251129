import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An order of the example `orders` subgraph, fulfilled by an instance of `order-fulfillment`. */
export interface Order {
  readonly id: string;
  readonly total: number;
  /** The `order-fulfillment` instance that fulfils it. */
  readonly instanceId: string;
}

export const FULFILLMENT_WORKFLOW = 'order-fulfillment';

/**
 * A second subgraph beside this server, as another team would write it: its own `Order` entity references the
 * `WorkflowInstance` that fulfils it by key, and adds `order` to `WorkflowInstance`, resolved from that key.
 */
export const ORDERS_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])

type Query {
  orders: [Order!]!
}

type Order @key(fields: "id") {
  id: ID!
  total: Float!
  fulfillment: WorkflowInstance
}

type WorkflowInstance @key(fields: "workflowName instanceId") {
  workflowName: String!
  instanceId: String!
  order: Order
}
`;

interface InstanceKey {
  readonly workflowName: string;
  readonly instanceId: string;
}

function resolvers(orders: readonly Order[]) {
  const byId = new Map(orders.map((order) => [order.id, order]));
  const byInstance = new Map(orders.map((order) => [order.instanceId, order]));
  return {
    Query: { orders: () => orders },
    Order: {
      __resolveReference: (reference: { id: string }) => byId.get(reference.id) ?? null,
      fulfillment: (order: Order): InstanceKey => ({
        workflowName: FULFILLMENT_WORKFLOW,
        instanceId: order.instanceId,
      }),
    },
    WorkflowInstance: {
      __resolveReference: (reference: InstanceKey): InstanceKey => reference,
      order: (instance: InstanceKey) =>
        instance.workflowName === FULFILLMENT_WORKFLOW ? (byInstance.get(instance.instanceId) ?? null) : null,
    },
  };
}

/** Serves the orders subgraph on an ephemeral loopback port; resolves with its `/graphql` URL and a stop function. */
export async function startOrdersSubgraph(
  orders: readonly Order[],
): Promise<{ readonly url: string; stop(): Promise<void> }> {
  const yoga = createYoga({
    schema: buildSubgraphSchema({ typeDefs: parse(ORDERS_SDL), resolvers: resolvers(orders) }),
    logging: false,
  });
  const server = createServer(yoga);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
