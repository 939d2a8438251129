import type { Plugin } from 'graphql-yoga';
import { KeySetUnavailable } from '../auth/jwt.js';
import { AuthenticationFailure, type Authenticator, type Principal } from '../auth/principal.js';
import type { PrincipalRegistry } from '../context.js';
import { codedError } from '../errors/coded-error.js';
import { errorResponse } from './error-response.js';

/** What an unauthenticated request gets: 401, `WWW-Authenticate: Bearer`, and a coded GraphQL error. */
export function unauthenticatedResponse(message: string): Response {
  return errorResponse(401, codedError(message, 'UNAUTHENTICATED'), { 'www-authenticate': 'Bearer' });
}

/** What a request gets while credentials cannot be checked (the JWT key set is unreachable): 503, retry later. */
function authenticationUnavailableResponse(): Response {
  const error = codedError(
    'The server cannot check credentials right now; try again shortly.',
    'AUTHENTICATION_UNAVAILABLE',
  );
  return errorResponse(503, error, { 'retry-after': '5' });
}

/**
 * Authenticates every HTTP request that can run an operation (POST and GET on `/graphql`, SSE in both
 * modes) before Yoga parses it, and leaves the principal in `principals` for the context factory. An
 * unauthenticated request ends here with {@link unauthenticatedResponse}: it is never parsed, priced or run.
 * Must come first among the plugins that can run anything, before the graphql-sse plugin, which answers its own
 * route; only GraphiQL's page (src/graphiql.ts), which runs nothing, is answered before it, without a credential.
 */
export function useAuthentication(options: { authenticator: Authenticator; principals: PrincipalRegistry }): Plugin {
  const { authenticator, principals } = options;
  return {
    async onRequest({ request, endResponse }) {
      if (request.method === 'OPTIONS') return;
      let principal: Principal;
      try {
        principal = await authenticator.authenticate(request.headers.get('authorization'), request.headers);
      } catch (error) {
        if (error instanceof KeySetUnavailable) {
          endResponse(authenticationUnavailableResponse());
          return;
        }
        if (!(error instanceof AuthenticationFailure)) throw error;
        endResponse(unauthenticatedResponse(error.message));
        return;
      }
      principals.set(request, principal);
    },
  };
}
