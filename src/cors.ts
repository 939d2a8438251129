import type { CORSOptions } from 'graphql-yoga';

const LOOPBACK_ORIGIN = /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/;

/**
 * Which browser origins may use the API: the one rule behind CORS ({@link createCorsPolicy}) and behind the
 * `Origin` checks of WebSocket upgrades, SSE and other requests (src/transport/browser-safety.ts). The server
 * acts with the account's API token, so any page a browser may call it from can read and change that account's
 * workflows: by default only pages served from loopback (a frontend dev server) may; deployments list their
 * dashboards' origins in `CORS_ORIGINS` (`*` allows every origin).
 */
export function createOriginPolicy(allowed: readonly string[]): (origin: string) => boolean {
  const anyOrigin = allowed.includes('*');
  const exact = new Set(allowed);
  return (origin) => anyOrigin || exact.has(origin) || (allowed.length === 0 && LOOPBACK_ORIGIN.test(origin));
}

/** CORS for browsers, allowing the origins of {@link createOriginPolicy}. */
export function createCorsPolicy(allowed: readonly string[]): (request: Request) => CORSOptions {
  const permitted = createOriginPolicy(allowed);
  return (request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !permitted(origin)) return false;
    return {
      origin: [origin],
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['content-type', 'accept', 'authorization', 'x-cloudflare-account-id'],
      maxAge: 600,
    };
  };
}
