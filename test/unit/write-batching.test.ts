import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { writeBatcher } from '../../src/transport/write-batching.js';
import { waitFor } from '../helpers/wait.js';

// src/transport/write-batching.ts on real loopback sockets: what one burst of microtasks writes stays in the
// socket's buffer until the burst is over, then leaves in one write, in order.

interface Pair {
  readonly writer: Socket;
  /** Everything the peer has read so far. */
  received(): string;
}

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function socketPair(): Promise<Pair> {
  let text = '';
  const server = createServer((peer) => {
    sockets.push(peer);
    peer.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const writer = connect(port, '127.0.0.1');
  sockets.push(writer);
  await once(writer, 'connect');
  return { writer, received: () => text };
}

/** Lets the microtasks queued so far (and those they queue, `rounds` deep) run, but no tick and no I/O. */
async function microtasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

const nextMacrotask = () => new Promise((resolve) => setImmediate(resolve));

describe('writeBatcher', () => {
  it('holds the writes of a burst of microtasks and sends them together, in order, once the burst is over', async () => {
    const { writer, received } = await socketPair();
    const batch = writeBatcher(writer);
    const sent = ['one;', 'two;', 'three;'];
    await Promise.all(
      sent.map(async (message, k) => {
        await microtasks(k);
        batch();
        writer.write(message);
      }),
    );
    // Still the same burst: all three are in the socket's buffer, none has been handed to the kernel.
    expect(writer.writableCorked).toBe(1);
    expect(writer.writableLength).toBe(sent.join('').length);
    await nextMacrotask();
    expect(writer.writableCorked).toBe(0);
    await waitFor(() => received().length === sent.join('').length, { message: 'the three messages' });
    expect(received()).toBe('one;two;three;');
  });

  it('holds a burst that began in synchronous code until its microtasks have run too', async () => {
    const { writer, received } = await socketPair();
    const batch = writeBatcher(writer);
    // An I/O callback's own code writes first (graphql-ws answers a ping so), then a microtask it queued.
    const held = await new Promise<number>((resolve) =>
      setImmediate(() => {
        batch();
        writer.write('sync;');
        void microtasks(5).then(() => {
          batch();
          writer.write('microtask;');
          resolve(writer.writableLength);
        });
      }),
    );
    expect(held).toBe('sync;microtask;'.length);
    await waitFor(() => received() === 'sync;microtask;', { message: 'both messages' });
  });

  it('holds every burst anew, and lets a socket ended during a hold send what it held', async () => {
    const { writer, received } = await socketPair();
    const batch = writeBatcher(writer);
    batch();
    writer.write('first;');
    await nextMacrotask();
    expect(writer.writableLength).toBe(0);
    batch();
    writer.write('second;');
    expect(writer.writableLength).toBe('second;'.length);
    writer.end('last;');
    await nextMacrotask();
    await waitFor(() => received() === 'first;second;last;', { message: 'the three messages' });
    expect(writer.writableCorked).toBe(0);
  });
});
