import type { AppLogger } from '../logger.js';

/**
 * Ends the process on an exception or a rejection that nothing handled, as Node does by default, but says so in one
 * `fatal` line through `logger`: structured, with secrets scrubbed. Node's own report is a raw stack on stderr,
 * which log collectors split into lines that are not JSON and which nothing scrubs. The process does not go on:
 * after such a failure its state is unknown, and a supervisor restarts it cleanly. (An operation's own failures
 * never get here: the executor's are one failed operation.)
 */
export function exitOnUnhandledFailures(logger: AppLogger): void {
  const fail = (error: unknown, origin: string) => {
    try {
      logger.fatal({ err: error, origin }, `${origin}: the process ends`);
    } finally {
      // Exit code 1 even if the line could not be made (a value whose getters throw): Node's own would be 7. The
      // logger's exit handler writes the line (src/logger.ts).
      process.exit(1);
    }
  };
  process.on('uncaughtException', (error, origin) => fail(error, origin));
  process.on('unhandledRejection', (reason) => fail(reason, 'unhandledRejection'));
}
