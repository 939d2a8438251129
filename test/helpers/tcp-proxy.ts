import { connect, createServer, type Socket } from 'node:net';
import { afterAll } from 'vitest';

export interface TcpProxy {
  /** The proxy's loopback port: connect here instead of to the target. */
  readonly port: number;
  /** Cuts the link: closes every connection through the proxy, and closes every new one at once, until {@link restore}. */
  cut(): void;
  /** Lets connections through again. */
  restore(): void;
  /** Closes the proxy and every connection through it. Safe to call twice. */
  dispose(): Promise<void>;
}

const proxies = new Set<TcpProxy>();
afterAll(async () => {
  await Promise.all([...proxies].map((proxy) => proxy.dispose()));
});

/**
 * A loopback TCP proxy to `targetPort` whose link a test can cut and restore: a network partition between one
 * client and the server (the server and its other clients are untouched).
 */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let cut = false;
  const server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no TCP port');
  let disposed: Promise<void> | undefined;
  const proxy: TcpProxy = {
    port: address.port,
    cut() {
      cut = true;
      for (const socket of open) socket.destroy();
    },
    restore() {
      cut = false;
    },
    dispose() {
      disposed ??= (async () => {
        proxies.delete(proxy);
        proxy.cut();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return disposed;
    },
  };
  proxies.add(proxy);
  return proxy;
}
