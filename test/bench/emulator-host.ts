/**
 * The benchmark's emulator process: `node --import tsx test/bench/emulator-host.ts '<EmulatorHostOptions JSON>'`.
 * Runs the project's emulator (`createEmulator`, the same code as `npm run emulator`) and a second
 * loopback-only admin server that reads out the emulator's exact request counters, which live in its
 * process. Prints `Emulator at <REST base URL> admin <admin origin>` once both listen.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEmulator } from '../../src/emulator/server.js';
import type { InstanceStatus } from '../../src/emulator/types.js';
import { BENCH_CLASS, BenchWorkflow } from './bench-workflow.js';
import { exitWithParent } from './children.js';
import type { RequestCounts } from './counts.js';

export interface EmulatorHostOptions {
  /** Latency added to every response, ms. */
  readonly latencyMs: number;
  /** Per-token budget the emulator enforces with 429s; unset = unlimited. */
  readonly rateLimit?: { readonly limit: number; readonly windowS: number };
  /** Emulated seconds per real second. @default 1 */
  readonly timeScale?: number;
}

/** Body of the admin route `POST /wait`: resolves once every listed instance is in one of `statuses`. */
export interface WaitRequest {
  readonly accountId: string;
  readonly workflowName: string;
  readonly instanceIds: readonly string[];
  readonly statuses: readonly InstanceStatus[];
  readonly timeoutMs: number;
}

const WORKFLOW_ROUTE = '/accounts/{account_id}/workflows/{workflow_name}';

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (raw === undefined) throw new Error('usage: emulator-host.ts <EmulatorHostOptions JSON>');
  const options = JSON.parse(raw) as EmulatorHostOptions;
  // Any token is accepted and budgeted on its own, so the orchestrator's seeding never spends the gateway's budget.
  const emulator = await createEmulator({
    port: 0,
    host: '127.0.0.1',
    seedDemoData: false,
    workflows: { [BENCH_CLASS]: BenchWorkflow },
    latencyMs: options.latencyMs,
    timeScale: options.timeScale ?? 1,
    clock: 'real',
    ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
  });
  const log = emulator.requests;
  const counts = (): RequestCounts => ({
    total: log.count(),
    instanceLists: log.count({ method: 'GET', route: `GET ${WORKFLOW_ROUTE}/instances` }),
    instanceGets: log.count({ method: 'GET', route: `GET ${WORKFLOW_ROUTE}/instances/{instance_id}` }),
    statusChanges: log.count({ method: 'PATCH', route: `PATCH ${WORKFLOW_ROUTE}/instances/{instance_id}/status` }),
    rateLimited: log.entries.filter((entry) => entry.status === 429).length,
    byRoute: log.entries.reduce<Record<string, number>>((acc, entry) => {
      const route = entry.route.startsWith(`${entry.method} `) ? entry.route : `${entry.method} ${entry.route}`;
      acc[route] = (acc[route] ?? 0) + 1;
      return acc;
    }, {}),
    firstAt: log.entries[0]?.at ?? null,
    lastAt: log.entries.at(-1)?.at ?? null,
  });

  const waitFor = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const wait = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WaitRequest;
    try {
      await Promise.all(
        wait.instanceIds.map((id) =>
          emulator.engine.waitForStatus(wait.accountId, wait.workflowName, id, wait.statuses, {
            timeoutMs: wait.timeoutMs,
          }),
        ),
      );
      res.writeHead(204).end();
    } catch (error) {
      res.writeHead(408, { 'content-type': 'text/plain' }).end(error instanceof Error ? error.message : String(error));
    }
  };

  const admin = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/requests') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(counts()));
    } else if (req.method === 'POST' && req.url === '/requests/reset') {
      log.reset();
      res.writeHead(204).end();
    } else if (req.method === 'POST' && req.url === '/wait') {
      waitFor(req, res).catch((error: unknown) => {
        res
          .writeHead(400, { 'content-type': 'text/plain' })
          .end(error instanceof Error ? error.message : String(error));
      });
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /requests, POST /requests/reset or POST /wait');
    }
  });
  await new Promise<void>((resolve, reject) => {
    admin.once('error', reject);
    admin.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = admin.address() as AddressInfo;
  process.stdout.write(`Emulator at ${emulator.url} admin http://127.0.0.1:${port}\n`);

  const stop = async () => {
    admin.closeAllConnections();
    admin.close();
    await emulator.stop();
  };
  exitWithParent(stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stop().finally(() => process.exit(0)));
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `emulator failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
