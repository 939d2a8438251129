import { createGatewayRuntime, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { buildHTTPExecutor } from '@graphql-tools/executor-http';
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A subgraph as the gateway reaches it: its name and its GraphQL endpoint on loopback. */
export interface Subgraph {
  readonly name: string;
  readonly url: string;
  /** Headers of the request for its SDL at start-up (a credential, say); none by default. */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Gateway {
  /** `http://127.0.0.1:PORT/graphql`. */
  readonly url: string;
  readonly supergraphSdl: string;
  /** The supergraph's API schema, what clients of the gateway query. */
  readonly publicSdl: string;
  stop(): Promise<void>;
}

/** Asks a running subgraph for its federation SDL, as composition tools do. */
async function sdlOf(subgraph: Subgraph): Promise<string> {
  const response = await fetch(subgraph.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...subgraph.headers },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  const body = (await response.json()) as { data?: { _service: { sdl: string } }; errors?: unknown };
  if (!body.data) throw new Error(`${subgraph.name} answered no SDL: ${JSON.stringify(body.errors)}`);
  return body.data._service.sdl;
}

/**
 * Composes the running subgraphs with @theguild/federation-composition and serves the supergraph with Hive
 * Gateway's runtime on an ephemeral loopback port. Subgraphs are reached over HTTP, subscriptions over SSE
 * (`@graphql-tools/executor-http`, the executor Hive Gateway's own HTTP transport builds).
 */
export async function startGateway(
  subgraphs: readonly Subgraph[],
  options: {
    /** Request headers passed on from each client to the subgraphs (`Authorization`, say): none by default. */
    readonly forwardHeaders?: readonly string[];
  } = {},
): Promise<Gateway> {
  const services = await Promise.all(
    subgraphs.map(async (subgraph) => ({
      name: subgraph.name,
      url: subgraph.url,
      typeDefs: parse(await sdlOf(subgraph)),
    })),
  );
  const composed = composeServices(services);
  if (composed.errors) throw new Error(`composition failed: ${composed.errors.map((e) => e.message).join('; ')}`);
  const forwarded = options.forwardHeaders ?? [];
  const runtime: GatewayRuntime = createGatewayRuntime({
    supergraph: composed.supergraphSdl,
    logging: false,
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) =>
        Object.fromEntries(forwarded.map((name) => [name, request.headers.get(name)])),
    },
    transports: {
      http: {
        getSubgraphExecutor: ({ transportEntry }) => buildHTTPExecutor({ endpoint: transportEntry.location ?? '' }),
      },
    },
  });
  const server = createServer(runtime);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    supergraphSdl: composed.supergraphSdl,
    publicSdl: composed.publicSdl,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runtime.dispose();
    },
  };
}
