/**
 * `AUTH_MODE=cloudflare-token`: each client brings its own Cloudflare credential, the API token as
 * `Authorization: Bearer <token>` and the account id in `X-Cloudflare-Account-Id` (or the server's
 * `CLOUDFLARE_ACCOUNT_ID` when it sends none). Nothing is checked here beyond shape: Cloudflare decides what the
 * token may do, and its 401/403 reach the client as `UNAUTHENTICATED`/`FORBIDDEN`.
 */
import { createCredential } from '../upstream/credential.js';
import { bearerCredential } from './bearer.js';
import { AuthenticationFailure, SCOPES, type Authenticator, type Scope } from './principal.js';

export const ACCOUNT_ID_HEADER = 'x-cloudflare-account-id';
/** Token lengths accepted (Cloudflare's tokens are 40 characters); anything else cannot be one. */
export const MIN_TOKEN_LENGTH = 8;
export const MAX_TOKEN_LENGTH = 1024;

const TOKEN_PATTERN = /^[\x21-\x7e]+$/;
const ACCOUNT_ID_PATTERN = /^[0-9a-f]{32}$/i;

/**
 * The `cloudflare-token` authenticator. `defaultAccountId` is `CLOUDFLARE_ACCOUNT_ID`, or empty for none.
 *
 * The principal has both scopes and every workflow (Cloudflare enforces the token's permissions); its id is the
 * credential's key (src/upstream/credential.ts: the account id and a short hash of the token), the same key that
 * partitions caches and budgets, so logs and budgets name a tenant alike. Its `credential` is that object too,
 * whose token is not enumerable, so serialising the principal cannot show it.
 */
export function createCloudflareTokenAuthenticator(defaultAccountId: string): Authenticator {
  return {
    mode: 'cloudflare-token',
    async authenticate(authorization, headers) {
      const token = bearerCredential(authorization, 'Cloudflare API token');
      if (token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH || !TOKEN_PATTERN.test(token)) {
        throw new AuthenticationFailure(
          `The Cloudflare API token must be ${MIN_TOKEN_LENGTH} to ${MAX_TOKEN_LENGTH} printable ASCII characters`,
        );
      }
      const sent = headers.get(ACCOUNT_ID_HEADER)?.trim();
      const accountId = sent === undefined || sent === '' ? defaultAccountId : sent;
      if (accountId === '') {
        throw new AuthenticationFailure(
          'Missing account id: send your Cloudflare account id in X-Cloudflare-Account-Id',
        );
      }
      if (!ACCOUNT_ID_PATTERN.test(accountId)) {
        throw new AuthenticationFailure('X-Cloudflare-Account-Id must be a 32-character hex Cloudflare account id');
      }
      // Lowercase, so that one account is one cache partition however a client spells it.
      const credential = createCredential(accountId.toLowerCase(), token);
      return Object.freeze({
        id: credential.key,
        mode: 'cloudflare-token' as const,
        scopes: new Set<Scope>(SCOPES),
        workflows: null,
        credential,
      });
    },
  };
}
