import { describe, expect, it, vi } from 'vitest';
import { EventQueue } from '../../src/subscriptions/event-queue.js';

/** A test item: a change from `from` to `to` of the thing named `key`. */
interface KeyedTransition {
  key: string;
  from: number;
  to: number;
}

const queue = (capacity: number, onClose?: () => void) =>
  new EventQueue<KeyedTransition>({
    capacity,
    keyOf: (e) => e.key,
    coalesce: (older, newer) => ({ ...newer, from: older.from }),
    ...(onClose ? { onClose } : {}),
  });

describe('EventQueue', () => {
  it('delivers in order while under capacity', async () => {
    const q = queue(4);
    q.push({ key: 'a', from: 0, to: 1 });
    q.push({ key: 'a', from: 1, to: 2 });
    expect((await q.next()).value).toEqual({ key: 'a', from: 0, to: 1 });
    expect((await q.next()).value).toEqual({ key: 'a', from: 1, to: 2 });
  });

  it('coalesces a slow consumer to the latest state without growing', async () => {
    const q = queue(3);
    for (let i = 0; i < 10_000; i++) q.push({ key: 'a', from: i, to: i + 1 });
    expect(q.size).toBe(3);
    const seen: KeyedTransition[] = [];
    q.end();
    for await (const e of q) seen.push(e);
    expect(seen.at(-1)).toEqual({ key: 'a', from: 2, to: 10_000 });
    expect(seen.map((e) => e.from)).toEqual([0, 1, 2]);
    expect(q.dropped).toBe(0);
  });

  it('drops the oldest item only when every queued item has another key', () => {
    const q = queue(2);
    q.push({ key: 'a', from: 0, to: 1 });
    q.push({ key: 'b', from: 0, to: 1 });
    q.push({ key: 'c', from: 0, to: 1 });
    expect(q.size).toBe(2);
    expect(q.dropped).toBe(1);
  });

  it('hands an item straight to a waiting consumer', async () => {
    const q = queue(1);
    const next = q.next();
    q.push({ key: 'a', from: 0, to: 1 });
    expect(await next).toEqual({ value: { key: 'a', from: 0, to: 1 }, done: false });
    expect(q.size).toBe(0);
  });

  it('delivers queued items before ending, then calls onClose once', async () => {
    const onClose = vi.fn();
    const q = queue(4, onClose);
    q.push({ key: 'a', from: 0, to: 1 });
    q.end();
    q.push({ key: 'a', from: 1, to: 2 });
    expect((await q.next()).done).toBe(false);
    expect((await q.next()).done).toBe(true);
    await q.return();
    expect(onClose).toHaveBeenCalledTimes(1);
  });

  it('return() releases a waiting consumer and frees the queue', async () => {
    const onClose = vi.fn();
    const q = queue(4, onClose);
    const pending = q.next();
    await q.return();
    expect(await pending).toEqual({ value: undefined, done: true });
    q.push({ key: 'a', from: 0, to: 1 });
    expect(q.size).toBe(0);
    expect(onClose).toHaveBeenCalledTimes(1);
  });
});
