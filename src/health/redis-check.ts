import type { RedisConnection } from '../redis/connection.js';
import type { ReadinessCheck } from './readiness.js';

/**
 * `/readyz`'s `redis` check (installed with `REDIS_URL`): ready while Redis answers. While it does not, the
 * replica still serves from its local share of the budget (src/redis/shared-budget.ts), and says so here; the
 * reason names an error code, never the URL or its password.
 */
export function redisReadinessCheck(connection: Pick<RedisConnection, 'status' | 'reason'>): ReadinessCheck {
  return {
    name: 'redis',
    check() {
      const status = connection.status();
      if (status === 'up') return { ok: true };
      const why = status === 'connecting' ? 'not reached yet' : `unreachable (${connection.reason() ?? 'unknown'})`;
      return {
        ok: false,
        reason: `Redis is ${why}: this replica serves from its local share of the request budget until it is back`,
      };
    },
  };
}
