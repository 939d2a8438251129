/**
 * Who may call the emulator, and what each credential may do (docs/upstream-contract.md §1.1): which accounts it
 * reaches and whether it may write. Refusals are {@link ApiError}s; no message repeats a credential.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { EmulatorTokenGrant, EmulatorTokens } from '../config.js';
import { ApiError, CODES } from './errors.js';

/** What one credential may do. */
interface Grant {
  readonly accounts: ReadonlySet<string>;
  readonly write: boolean;
}

export interface Caller {
  /** Identity for rate limiting. Held in memory only: never logged, never sent. */
  readonly key: string;
  /** What the credential may do; undefined means every account, writes included. */
  readonly grant: Grant | undefined;
}

export interface AccessOptions {
  /** One token (or legacy key) for every account, writes included. */
  apiToken?: string;
  /** Tokens confined to their accounts, possibly read-only. */
  tokens?: EmulatorTokens;
  /** HTTP status of code 9106. */
  failureStatus: 401 | 403;
}

export interface Access {
  /** @throws {@link ApiError} code 9106 when the credential is missing, malformed or not accepted. */
  authenticate(headers: IncomingHttpHeaders): Caller;
  /** @throws {@link ApiError} 403 code 10000 when the caller may not use `accountId`, or may not write. */
  authorise(caller: Caller, method: string, accountId: string): void;
}

/** Every method but these changes something, so needs write access (docs/upstream-contract.md §1.1). */
const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

export function createAccess(options: AccessOptions): Access {
  // A Map, not the object itself: a token such as "toString" must not find Object.prototype's members.
  const grants = new Map<string, Grant>(
    Object.entries(options.tokens ?? {}).map(([token, grant]: [string, EmulatorTokenGrant]) => [
      token,
      { accounts: new Set(grant.accounts), write: grant.write },
    ]),
  );
  const restricted = options.apiToken !== undefined || options.tokens !== undefined;
  const failure = (message: string) =>
    new ApiError(options.failureStatus, CODES.authFailed, `Authentication failed: ${message}`);
  const refusal = (message: string) => new ApiError(403, CODES.authError, `Authentication error: ${message}`);
  /** The grant of an accepted credential; null when it is not accepted. */
  const grantOf = (credential: string): { grant: Grant | undefined } | null => {
    if (!restricted || credential === options.apiToken) return { grant: undefined };
    const grant = grants.get(credential);
    return grant ? { grant } : null;
  };

  return {
    authenticate(headers) {
      const header = headers.authorization;
      if (header !== undefined) {
        const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
        if (!match) throw failure('the Authorization header must be "Bearer <api token>"');
        const token = match[1]!;
        const accepted = grantOf(token);
        if (!accepted) throw failure('the API token is not valid for this emulator');
        return { key: `token:${token}`, ...accepted };
      }
      const email = headers['x-auth-email'];
      const key = headers['x-auth-key'];
      if (typeof email === 'string' && typeof key === 'string' && email !== '' && key !== '') {
        const accepted = grantOf(key);
        if (!accepted) throw failure('the X-Auth-Email / X-Auth-Key pair is not valid for this emulator');
        return { key: `key:${email}`, ...accepted };
      }
      throw failure('send "Authorization: Bearer <api token>" (or X-Auth-Email and X-Auth-Key)');
    },

    authorise(caller, method, accountId) {
      if (!caller.grant) return;
      if (!caller.grant.accounts.has(accountId))
        throw refusal(`the credential has no access to account "${accountId}"`);
      if (!caller.grant.write && !READ_METHODS.has(method))
        throw refusal(`the credential is read-only, and ${method} changes data`);
    },
  };
}
