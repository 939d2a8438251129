/**
 * Who is calling, once authenticated, and what they may do. Every mode (`AUTH_MODE`) produces a
 * {@link Principal}; the schema authorises operations against it, the audit log names it.
 */

/** `workflows:read` allows queries and subscriptions; `workflows:write` allows every mutation. */
export type Scope = 'workflows:read' | 'workflows:write';
export const SCOPES: readonly Scope[] = ['workflows:read', 'workflows:write'];

export type AuthMode = 'none' | 'api-key' | 'jwt' | 'cloudflare-token';
export const AUTH_MODES: readonly AuthMode[] = ['none', 'api-key', 'jwt', 'cloudflare-token'];

/** A Cloudflare credential a client brought (`cloudflare-token` mode); the token never leaves this object's owner. */
export interface ClientCredential {
  readonly accountId: string;
  readonly apiToken: string;
}

export interface Principal {
  /**
   * Safe to log and to put in metrics: the API key's id, the JWT's subject, a short hash of a client's
   * Cloudflare credential, or `anonymous` when authentication is off. Never a key, token or JWT.
   */
  readonly id: string;
  readonly mode: AuthMode;
  readonly scopes: ReadonlySet<Scope>;
  /**
   * Workflow names or `*` globs this principal may touch; `null` means every workflow. Applies to every
   * field that takes a workflow name, to `node`/`nodes`, and filters `workflows`.
   */
  readonly workflows: readonly string[] | null;
  /** When the credential stops being valid (a JWT's `exp`), in epoch ms; sockets close then. */
  readonly expiresAt?: number;
  /** `cloudflare-token` mode: the client's own Cloudflare credential, used for every upstream call. */
  readonly credential?: ClientCredential;
}

/** Why a request was not authenticated; the message is for the client and never repeats the credential. */
export class AuthenticationFailure extends Error {
  override readonly name = 'AuthenticationFailure';
}

/** Turns a request's credential (the `Authorization` header value, and the request's other headers) into a principal. */
export interface Authenticator {
  readonly mode: AuthMode;
  /** @throws {@link AuthenticationFailure} when the credential is missing or invalid. */
  authenticate(authorization: string | null, headers: Headers): Promise<Principal>;
  /** Re-reads rotating material (the API keys file on SIGHUP); a no-op elsewhere. */
  reload?(): Promise<void>;
  close?(): void;
}

/** The principal of `AUTH_MODE=none`: everything allowed, named `anonymous`. */
export const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  mode: 'none',
  scopes: new Set<Scope>(SCOPES),
  workflows: null,
});

/** Whether `workflowName` matches one of `patterns` (names, or globs where `*` matches any run of characters). */
export function workflowAllowed(principal: Principal, workflowName: string): boolean {
  if (principal.workflows === null) return true;
  return principal.workflows.some((pattern) =>
    pattern.includes('*')
      ? new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`).test(workflowName)
      : pattern === workflowName,
  );
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
