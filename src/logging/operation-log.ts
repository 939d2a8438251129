/**
 * One `info` line per GraphQL operation (two per subscription: when it starts and when it ends), whatever the
 * transport: a listener of the operation lifecycle (src/operations/lifecycle.ts).
 */
import type { Logger } from '../logger.js';
import type { OperationListener, OperationRecord } from '../operations/lifecycle.js';

/** Writes the operation lines to `logger`. */
export function operationLog(logger: Logger): OperationListener {
  const write = (record: OperationRecord, message: string, extra: Record<string, unknown> = {}) => {
    const codes = [...record.errorCodes];
    logger.info(
      {
        requestId: record.requestId,
        operationName: record.operationName ?? null,
        operationType: record.operationType ?? null,
        durationMs: Math.round((performance.now() - record.startedAt) * 10) / 10,
        upstreamCalls: record.upstreamCalls,
        upstreamRetries: record.upstreamRetries,
        ...(record.cost === undefined ? {} : { cost: record.cost }),
        // A subscription's end is judged by its events' errors.
        outcome: record.outcome ?? (codes.length === 0 ? 'success' : 'error'),
        ...(codes.length === 0 ? {} : { errorCodes: codes }),
        principal: record.principal ?? null,
        ...extra,
      },
      message,
    );
  };
  return {
    ended(record) {
      write(record, record.streaming ? 'subscription started' : 'operation');
    },
    subscriptionEnded(record) {
      write(record, 'subscription ended', {
        events: record.events,
        outcome: record.errorCodes.size === 0 ? 'success' : 'error',
      });
    },
  };
}
