import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { writeBatcher } from '../../src/transport/write-batching.js';

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

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await nextMacrotask();
  }
}

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
    await until(() => received().length === sent.join('').length);
    expect(received()).toBe('one;two;three;');
  });

  it('writes at once without it (the control: the buffer is empty right after a write)', async () => {
    const { writer } = await socketPair();
    writer.write('one;');
    expect(writer.writableLength).toBe(0);
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
    await until(() => received() === 'first;second;last;');
    expect(writer.writableCorked).toBe(0);
  });
});
