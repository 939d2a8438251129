import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';

/** Thrown from a `waitFor` check to give up at once instead of retrying until the deadline. */
export class Fatal extends Error {
  override readonly name = 'Fatal';
}

/**
 * Polls `check` every `intervalMs` until it returns a value other than `undefined`, or throws once
 * `timeoutMs` has passed. `what` completes the message "timed out waiting for …".
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs, intervalMs = 25 }: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof Fatal) throw error;
      lastError = error;
    }
    if (performance.now() >= deadline) {
      const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
    }
    await delay(intervalMs);
  }
}

/** Resolves once `GET url` answers 200; the body is drained so the connection can be reused. */
export async function waitForHttpOk(url: string, timeoutMs: number, intervalMs = 10): Promise<void> {
  await waitFor(
    `${url} to answer 200`,
    async () => {
      const response = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
      await response.body.dump();
      return response.statusCode === 200 ? true : undefined;
    },
    { timeoutMs, intervalMs },
  );
}
