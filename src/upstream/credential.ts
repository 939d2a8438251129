import { createHash } from 'node:crypto';
import type { Credential, CredentialSource } from './types.js';

/** Builds a {@link Credential}; its `key` is `accountId:` + 16 hex chars of the token's SHA-256, safe to log. */
export function createCredential(accountId: string, apiToken: string, source: CredentialSource = 'server'): Credential {
  const key = `${accountId}:${createHash('sha256').update(apiToken).digest('hex').slice(0, 16)}`;
  // The token stays out of enumerable properties so that logging or serialising a credential cannot show it.
  const credential = { accountId, key, source } as {
    accountId: string;
    key: string;
    source: CredentialSource;
    apiToken: string;
  };
  Object.defineProperty(credential, 'apiToken', { value: apiToken, enumerable: false });
  return Object.freeze(credential);
}
