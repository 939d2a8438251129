import type { Duplex } from 'node:stream';

/**
 * Returns a function that holds `socket`'s writes from the moment it is called until the microtasks queued by then,
 * and those they queue in turn, have run; then it lets them all go in one write (Node's `cork()`, released by a tick
 * queued from a microtask: Node runs it once the microtask queue is empty, whether the first write came from a
 * microtask or from an I/O callback).
 *
 * A poll cycle's changes reach every subscriber in one such burst (src/subscriptions/poll-loop.ts), so a
 * connection with several subscriptions gets several messages in it: one `writev` system call for all of them
 * instead of one per message. Nothing waits longer than the burst that sent it. What it saves is measured by S4
 * (README.md, Benchmarks).
 */
export function writeBatcher(socket: Duplex): () => void {
  let holding = false;
  const release = () => {
    holding = false;
    socket.uncork();
  };
  const releaseAfterBurst = () => process.nextTick(release);
  return () => {
    if (holding) return;
    holding = true;
    socket.cork();
    queueMicrotask(releaseAfterBurst);
  };
}
