import type { GraphQLError } from 'graphql';

/**
 * A Fetch answer with one coded GraphQL error and `no-store` (a refusal or failure is never cached): what Yoga's
 * plugins and listener answer when they end a request themselves (src/transport/authentication.ts,
 * src/transport/node-listener.ts).
 */
export function errorResponse(status: number, error: GraphQLError, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ errors: [error] }), {
    status,
    headers: { 'content-type': 'application/json', ...headers, 'cache-control': 'no-store' },
  });
}
