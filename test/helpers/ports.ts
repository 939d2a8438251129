import { readFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/** An ephemeral loopback port that nothing listens on (one just released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Lowest port the kernel hands out for port 0; Linux's default where it cannot be read. */
async function ephemeralRangeStart(): Promise<number> {
  try {
    const [low] = (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/);
    const value = Number(low);
    return Number.isInteger(value) && value > 2048 ? value : 32768;
  } catch {
    return 32768;
  }
}

/** Whether a connection to 127.0.0.1:`port` is refused (nothing listens there). */
function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/**
 * A loopback port that refuses connections and stays so: it lies below the kernel's ephemeral range, so no server
 * started with PORT=0 (and no client socket) can be given it meanwhile, as one {@link freePort} returns can (a server
 * under test once got the very port it was told its upstream was on, and reached itself).
 */
export async function refusedPort(): Promise<number> {
  const below = await ephemeralRangeStart();
  const from = Math.min(10_000, below - 1000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = from + Math.floor(Math.random() * (below - from));
    if (await refuses(port)) return port;
  }
  throw new Error(`no refused loopback port found between ${from} and ${below}`);
}
