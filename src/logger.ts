import type { LogLevel } from './config.js';

/** The logger yoga and our modules share. Lines go to stderr so stdout stays free for the start-up line. */
export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * Creates a leveled logger. Secrets registered with `redact` (the API token) are replaced in every line,
 * so a stray token in an error message can never reach a log.
 */
export function createLogger(level: LogLevel, redact: readonly string[] = []): Logger {
  const threshold = ORDER[level];
  const secrets = redact.filter((s) => s.length >= 8);
  const write =
    (name: Exclude<LogLevel, 'silent'>) =>
    (...args: unknown[]) => {
      if (ORDER[name] < threshold) return;
      let line = args
        .map((a) => (a instanceof Error ? (a.stack ?? a.message) : typeof a === 'string' ? a : safeJson(a)))
        .join(' ');
      for (const secret of secrets) line = line.split(secret).join('[REDACTED]');
      process.stderr.write(`${new Date().toISOString()} ${name.toUpperCase()} ${line}\n`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
