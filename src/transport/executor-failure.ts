import { unexpectedError } from '../errors/coded-error.js';
import type { Logger } from '../logger.js';

/** An error as a log line may tell it (`fallback` for a thrown non-error): a stack names files of this server. */
export function nameAndMessage(error: unknown, fallback = 'unknown error'): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : fallback;
}

/**
 * Runs yoga's enveloped `execute` or `subscribe` for one operation of graphql-ws or graphql-sse. What they throw or
 * reject with (a bug in an executor: test/integration/executor-errors.test.ts) becomes that operation's one result,
 * masked as over HTTP, where yoga does the same. Unguarded, graphql-ws would close the socket with 4500, ending
 * every other operation on it, and graphql-sse would answer the request with a 500 instead of a result.
 */
export function isolated<T>(run: () => T | Promise<T>, logger: Logger): Promise<T | { errors: [Error] }> {
  const failed = (error: unknown) => {
    logger.error({ error: nameAndMessage(error, 'unknown') }, 'operation failed in the executor');
    return { errors: [unexpectedError()] as [Error] };
  };
  try {
    return Promise.resolve(run()).catch(failed);
  } catch (error) {
    return Promise.resolve(failed(error));
  }
}
