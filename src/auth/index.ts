/**
 * Access control: {@link createAuthenticator} picks the authenticator of `AUTH_MODE`; the principal types and
 * the workflow allowlist are in ./principal.ts.
 */
import type { AuthModeName, Config } from '../config.js';
import { createApiKeyAuthenticator } from './api-keys.js';
import { createCloudflareTokenAuthenticator } from './cloudflare-token.js';
import { createJwtAuthenticator, type JwtAuthenticatorOptions } from './jwt.js';
import { createNoneAuthenticator } from './none.js';
import type { AuthMode, Authenticator } from './principal.js';

export type AuthenticatorDeps = JwtAuthenticatorOptions;

/**
 * The authenticator of `config.auth.mode`, with its material loaded (the API keys file, a public key file).
 * @throws {@link ConfigError} when that material is unreadable or invalid (the message names files and fields,
 * never a key or secret).
 */
export async function createAuthenticator(config: Config, deps: AuthenticatorDeps = {}): Promise<Authenticator> {
  const { auth } = config;
  switch (auth.mode) {
    case 'none':
      return createNoneAuthenticator();
    case 'api-key':
      return createApiKeyAuthenticator(required(auth.apiKeysFile, 'API_KEYS_FILE'));
    case 'jwt':
      return createJwtAuthenticator(required(auth.jwt, 'the JWT_* variables'), deps);
    case 'cloudflare-token':
      return createCloudflareTokenAuthenticator(config.upstream.accountId);
  }
}

function required<T>(value: T | undefined, what: string): T {
  // loadConfig guarantees it; a Config built by hand (createConfig in tests) might not.
  if (value === undefined) throw new Error(`createAuthenticator: ${what} missing from the configuration`);
  return value;
}

// config.ts cannot import principal.ts (it is the first layer), so it spells the modes again; this fails to
// compile if the two lists drift apart.
const sameModes: [AuthMode, AuthModeName] extends [AuthModeName, AuthMode] ? true : never = true;
void sameModes;
