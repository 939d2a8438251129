export interface WaitOptions {
  /** What is awaited, as the end of "timed out after N ms waiting for …". */
  readonly message: string;
  /** @default 10_000 */
  readonly timeoutMs?: number;
}

/** How often the condition is checked; short, so that a test waits for a condition rather than for time. */
const CHECK_EVERY_MS = 5;

/**
 * Resolves as soon as `condition` holds, checking it at once and then every few milliseconds; rejects
 * with `timed out after N ms waiting for <message>` once the deadline passes. A condition that throws
 * rejects at once with that error, so a failing expectation inside it is not retried into a timeout.
 */
export async function waitFor(condition: () => boolean, { message, timeoutMs = 10_000 }: WaitOptions): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, CHECK_EVERY_MS));
  }
}

/** How often {@link eventually} asks: each check may be a round trip (Redis, a `/metrics` page). */
const ASK_EVERY_MS = 20;

/**
 * {@link waitFor} for a condition that has to ask something over the network (Redis, another process): resolves
 * once `condition` resolves true, asking again every few milliseconds; rejects at the deadline.
 */
export async function eventually(
  condition: () => Promise<boolean>,
  { message, timeoutMs = 10_000 }: WaitOptions,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, ASK_EVERY_MS));
  }
}
