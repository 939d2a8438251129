/**
 * S8's supergraph parts, each in its own process so that their CPU never shares an event loop with the
 * subgraph under test or with the orchestrator:
 *
 *   node --import tsx test/bench/supergraph-host.ts orders '<Order[] JSON>'
 *     the example orders subgraph (test/federation/orders-subgraph.ts); prints `Orders subgraph at <url>`
 *   node --import tsx test/bench/supergraph-host.ts gateway '<Subgraph[] JSON>'
 *     the composed supergraph served by Hive Gateway (test/federation/gateway.ts); prints `Supergraph gateway at <url>`
 */
import { startGateway, type Subgraph } from '../federation/gateway.js';
import { startOrdersSubgraph, type Order } from '../federation/orders-subgraph.js';
import { exitWithParent } from './children.js';

async function main(): Promise<void> {
  const [role, json] = process.argv.slice(2);
  if (json === undefined || (role !== 'orders' && role !== 'gateway')) {
    throw new Error("usage: supergraph-host.ts orders '<Order[] JSON>' | gateway '<Subgraph[] JSON>'");
  }
  let stop: () => Promise<void>;
  if (role === 'orders') {
    const orders = await startOrdersSubgraph(JSON.parse(json) as Order[]);
    stop = () => orders.stop();
    process.stdout.write(`Orders subgraph at ${orders.url}\n`);
  } else {
    const gateway = await startGateway(JSON.parse(json) as Subgraph[]);
    stop = () => gateway.stop();
    process.stdout.write(`Supergraph gateway at ${gateway.url}\n`);
  }
  exitWithParent(stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stop().finally(() => process.exit(0)));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`supergraph host failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
