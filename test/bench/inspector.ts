import WebSocket from 'ws';

/**
 * A minimal Chrome DevTools Protocol client for another node process started with `--inspect=127.0.0.1:0`:
 * it can collect that process's garbage and read its heap from outside, so memory per subscription is
 * measured after a full GC instead of on an RSS that still holds garbage.
 */
export interface Inspector {
  /** Runs a full GC in the inspected process, then returns its used JS heap in bytes. */
  heapUsedAfterGc(): Promise<number>;
  close(): void;
}

/** The line node prints on stderr when its inspector listens. */
export const INSPECTOR_LINE = /Debugger listening on (ws:\/\/\S+)/;

export async function connectInspector(url: string, timeoutMs = 10_000): Promise<Inspector> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`inspector at ${url} did not open within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();
  socket.on('message', (raw) => {
    const message = JSON.parse(raw.toString()) as { id?: number; result?: unknown; error?: { message: string } };
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter || message.id === undefined) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`inspector: ${message.error.message}`));
    else waiter.resolve(message.result);
  });
  socket.on('close', () => {
    for (const waiter of pending.values()) waiter.reject(new Error('inspector connection closed'));
    pending.clear();
  });

  const call = (method: string): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`inspector: ${method} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, {
        resolve: (result) => {
          clearTimeout(timer);
          resolve(result);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      socket.send(JSON.stringify({ id, method }));
    });

  return {
    async heapUsedAfterGc() {
      await call('HeapProfiler.collectGarbage');
      const usage = (await call('Runtime.getHeapUsage')) as { usedSize?: number };
      if (typeof usage.usedSize !== 'number') throw new Error('inspector: Runtime.getHeapUsage returned no usedSize');
      return usage.usedSize;
    },
    close: () => socket.close(),
  };
}
