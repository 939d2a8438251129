import type { Duplex } from 'node:stream';

/**
 * Returns a function that holds `socket`'s writes from the moment it is called until the current burst of
 * microtasks is over, then lets them all go in one write (Node's `cork()`, released by the next tick, which runs
 * once the microtask queue is empty).
 *
 * A poll cycle's changes reach every subscriber in one such burst (src/subscriptions/poll-loop.ts), so a
 * connection with several subscriptions gets several messages in it: one `writev` system call for all of them
 * instead of one per message. Before this, writes were a quarter of the gateway's CPU while it delivered S4's
 * events (test/bench/README.md). Nothing waits longer than the burst that sent it.
 */
export function writeBatcher(socket: Duplex): () => void {
  let holding = false;
  const release = () => {
    holding = false;
    socket.uncork();
  };
  return () => {
    if (holding) return;
    holding = true;
    socket.cork();
    process.nextTick(release);
  };
}
