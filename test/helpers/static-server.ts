import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { afterAll } from 'vitest';

export interface StaticServer {
  /** `http://127.0.0.1:PORT`: the origin of the pages it serves. */
  readonly origin: string;
  stop(): Promise<void>;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
};

const running = new Set<StaticServer>();
afterAll(async () => {
  await Promise.all([...running].map((server) => server.stop()));
});

/**
 * Serves the files of `root` (a built single-page app) on an ephemeral loopback port: each server is a browser
 * origin of its own. Unknown paths get `index.html`, as a single-page app's host would answer.
 */
export async function startStaticServer(root: string): Promise<StaticServer> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = join(root, path.endsWith('/') ? 'index.html' : path);
    const fallback = join(root, 'index.html');
    void (file.startsWith(root) ? readFile(file) : Promise.reject(new Error('outside the root')))
      .then(
        (body) => ({ body, type: CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' }),
        async () => ({ body: await readFile(fallback), type: CONTENT_TYPES['.html']! }),
      )
      .then(
        ({ body, type }) => res.writeHead(200, { 'content-type': type }).end(body),
        () => res.writeHead(404).end(),
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopping: Promise<void> | undefined;
  const handle: StaticServer = {
    origin: `http://127.0.0.1:${port}`,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        running.delete(handle);
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
  running.add(handle);
  return handle;
}
