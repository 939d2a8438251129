import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import type { Logger } from '../logger.js';

/** The `component` field of every line the OpenTelemetry SDK's diagnostics become. */
export const DIAGNOSTICS_COMPONENT = 'opentelemetry';

/**
 * Routes the OpenTelemetry SDK's own diagnostics (its `diag` logger) to `logger`, from `warn` up: an exporter that
 * cannot reach its collector, a span batch dropped, a malformed `OTEL_*` value the SDK falls back from. They become
 * structured lines with `component: "opentelemetry"`, scrubbed like every other line (src/logger.ts); without a
 * logger set, the SDK would drop them, and nothing it says would reach the log. Below `warn` it narrates every
 * export (the spans themselves at `debug`).
 *
 * `diag` is global to the process: the logger of the tracing started last receives it.
 */
export function logDiagnostics(logger: Logger): void {
  diag.setLogger(diagLogger(logger), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

function diagLogger(logger: Logger): DiagLogger {
  const line =
    (level: 'error' | 'warn' | 'debug') =>
    (message: string, ...args: unknown[]): void => {
      const { fields, text } = structured(message);
      logger[level]({ component: DIAGNOSTICS_COMPONENT, ...fields, ...(args.length > 0 ? { data: args } : {}) }, text);
    };
  return {
    error: line('error'),
    warn: line('warn'),
    info: line('debug'),
    debug: line('debug'),
    verbose: line('debug'),
  };
}

/**
 * The SDK reports a failed export with the error serialised as JSON in the message (`{"message":"connect
 * ECONNREFUSED 127.0.0.1:4318","code":"ECONNREFUSED",...}`): such an error becomes the line's `err` field, and its
 * message the line's message.
 */
function structured(message: string): { fields: Record<string, unknown>; text: string } {
  if (!message.startsWith('{')) return { fields: {}, text: message };
  try {
    const error: unknown = JSON.parse(message);
    if (error !== null && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string')
      return { fields: { err: error }, text: `trace export: ${(error as { message: string }).message}` };
  } catch {
    // Not JSON after all: the message stays as it is.
  }
  return { fields: {}, text: message };
}
