import type { CORSOptions } from 'graphql-yoga';

const LOOPBACK_ORIGIN = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/**
 * CORS for browsers. The server acts with the account's API token, so any page a browser may call it from
 * can read and change that account's workflows: by default only pages served from loopback (a frontend dev
 * server) may; deployments list their dashboards' origins in `CORS_ORIGINS`.
 */
export function createCorsPolicy(allowed: readonly string[]): (request: Request) => CORSOptions {
  const anyOrigin = allowed.includes('*');
  const exact = new Set(allowed);
  return (request) => {
    const origin = request.headers.get('origin');
    if (origin === null) return false;
    const permitted = anyOrigin || exact.has(origin) || (allowed.length === 0 && LOOPBACK_ORIGIN.test(origin));
    if (!permitted) return false;
    return {
      origin: [origin],
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['content-type', 'accept', 'authorization'],
      maxAge: 600,
    };
  };
}
