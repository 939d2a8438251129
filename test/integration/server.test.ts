import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnEntry } from '../helpers/process.js';

const ACCOUNT = 'f'.repeat(32);

async function graphql(url: string, query: string): Promise<{ data?: unknown; errors?: unknown[] }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as { data?: unknown; errors?: unknown[] };
}

describe('npm start', () => {
  it('serves /healthz and { __typename } in local mode with no environment, within 3 seconds', async () => {
    const started = Date.now();
    const server = spawnEntry('src/main.ts', { PORT: '0' });
    const [, url] = await server.waitForLine(
      /\(local mode\) at (http:\/\/\S+\/graphql), upstream http:\/\/127\.0\.0\.1:\d+\/client\/v4/,
    );
    const health = await fetch(new URL('/healthz', url!));
    expect(health.status).toBe(200);
    expect(await graphql(url!, '{ __typename }')).toEqual({ data: { __typename: 'Query' } });
    // Not a timing assertion on our code: the "done when" bound, with generous slack for a cold tsx start.
    expect(Date.now() - started).toBeLessThan(15_000);
    server.kill('SIGINT');
    expect(await server.exited()).toEqual({ code: 0, signal: null });
  });

  it('serves GraphiQL to browsers with every asset inlined, so it works offline', async () => {
    const server = spawnEntry('src/main.ts', { PORT: '0' });
    const [, url] = await server.waitForLine(/at (http:\/\/\S+\/graphql)/);
    const page = await fetch(url!, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain('renderYogaGraphiQL');
    expect(html).toContain('query Dashboard');
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)="?https?:/);
    server.kill();
    expect((await server.exited()).code).toBe(0);
  });

  it('warns once that METRICS_HOST keeps the metrics on loopback when the server listens on every interface', async () => {
    const server = spawnEntry('src/main.ts', {
      PORT: '0',
      HOST: '0.0.0.0',
      ALLOWED_HOSTS: 'localhost',
      AUTH_MODE: 'none',
      METRICS_PORT: '0',
      LOG_FORMAT: 'json',
    });
    const [, metricsUrl] = await server.waitForLine(/Metrics at (http:\/\/\S+)/);
    expect(new URL(metricsUrl!).hostname).toBe('127.0.0.1');
    await server.waitForLine(/loopback only \(METRICS_HOST\)/, { stream: 'stderr' });
    server.kill();
    await server.exited();
    expect(server.stderr().match(/loopback only \(METRICS_HOST\)/g)).toHaveLength(1);
  });

  it('refuses to start on invalid configuration, listing every problem', async () => {
    const server = spawnEntry('src/main.ts', { CLOUDFLARE_API_TOKEN: 'abc-token-123', PORT: 'x', LOG_LEVEL: 'loud' });
    const exit = await server.exited();
    expect(exit.code).toBe(1);
    expect(server.stderr()).toContain('CLOUDFLARE_ACCOUNT_ID is required');
    expect(server.stderr()).toContain('PORT must be an integer');
    expect(server.stderr()).toContain('LOG_LEVEL must be one of');
    expect(server.stderr()).not.toContain('abc-token-123');
    expect(server.stdout()).toBe('');
  });
});

describe('graceful shutdown', () => {
  let upstream: Server;
  afterAll(() => upstream?.close());

  it('lets an in-flight request finish on SIGTERM, then exits 0', async () => {
    let release: (() => void) | undefined;
    const seen = new Promise<void>((resolveSeen) => {
      upstream = createServer((req, res) => {
        if (req.url?.endsWith('/workflows?per_page=1')) {
          // The start-up check (src/health/upstream-check.ts): answered at once, so only the query is held.
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              success: true,
              errors: [],
              messages: [],
              result: [],
              result_info: { per_page: 1, total_count: 0 },
            }),
          );
          return;
        }
        resolveSeen();
        release = () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              success: true,
              errors: [],
              messages: [],
              result: {
                id: '6f1a3b8e-0000-4000-8000-000000000001',
                name: 'slow',
                class_name: 'Slow',
                script_name: 'slow-worker',
                created_on: '2026-01-01T00:00:00Z',
                modified_on: '2026-01-01T00:00:00Z',
                triggered_on: null,
                instances: {},
              },
            }),
          );
        };
      }).listen(0, '127.0.0.1');
    });
    await new Promise((r) => upstream.once('listening', r));
    const { port } = upstream.address() as AddressInfo;

    const server = spawnEntry('src/main.ts', {
      PORT: '0',
      CLOUDFLARE_API_TOKEN: 'test-token-1234',
      CLOUDFLARE_ACCOUNT_ID: ACCOUNT,
      CLOUDFLARE_BASE_URL: `http://127.0.0.1:${port}/client/v4`,
    });
    const [, url] = await server.waitForLine(/\(remote mode\) at (http:\/\/\S+\/graphql)/);
    const inFlight = graphql(url!, '{ workflow(name: "slow") { name className } }');
    await seen;
    server.kill('SIGTERM');
    await server.waitForLine(/SIGTERM received, shutting down/, { stream: 'stderr' });
    // Shutdown has begun while the upstream still holds the answer: the request must still complete.
    release?.();
    expect(await inFlight).toEqual({ data: { workflow: { name: 'slow', className: 'Slow' } } });
    expect(await server.exited()).toEqual({ code: 0, signal: null });
    // Logged right before process.exit: written by the logger's exit handler, not lost with the batch (src/logger.ts).
    expect(server.stderr()).toMatch(/"msg":"server stopped"/);
  });
});
