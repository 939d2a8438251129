/**
 * The S1 baseline: the least any gateway can do. `GET /instance/:workflow/:id` becomes the same REST call
 * through the same client (`createUpstream(...).default.getInstance(..., { simple: true })`, so the same
 * undici Agent, timeouts, budget and de-duplication) and answers the fields the GraphQL query selects.
 *
 * Run as its own process: `node --import tsx test/bench/passthrough.ts`, configured by the gateway's own
 * variables (`loadConfig`), printing `Passthrough at http://HOST:PORT` once it listens.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createUpstream } from '../../src/upstream/client.js';
import { NotFoundError } from '../../src/upstream/errors.js';
import { exitWithParent } from './children.js';

const ROUTE = /^\/instance\/([^/?]+)\/([^/?]+)$/;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, [config.upstream.apiToken]);
  const upstream = createUpstream(config.upstream, { logger });
  const api = upstream.default;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/healthz') return send(res, 200, { status: 'ok' });
    const match = req.method === 'GET' ? ROUTE.exec(req.url ?? '') : null;
    if (!match) return send(res, 404, { error: 'expected GET /instance/:workflow/:id' });
    let workflowName: string;
    let instanceId: string;
    try {
      workflowName = decodeURIComponent(match[1] ?? '');
      instanceId = decodeURIComponent(match[2] ?? '');
    } catch {
      return send(res, 400, { error: 'malformed percent-encoding in the path' });
    }
    try {
      const details = await api.getInstance(workflowName, instanceId, { simple: true }, { priority: 'interactive' });
      send(res, 200, { instanceId: details.id, status: details.status, params: details.params });
    } catch (error) {
      if (error instanceof NotFoundError) return send(res, 404, { error: 'instance not found' });
      logger.warn('passthrough upstream call failed', error);
      send(res, 502, { error: 'upstream call failed' });
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`Passthrough at http://${config.host}:${port}\n`);

  const stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await upstream.close();
  };
  exitWithParent(stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stop().finally(() => process.exit(0)));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`passthrough failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
