/**
 * Who is calling, once authenticated, and what they may do. Every mode (`AUTH_MODE`) produces a
 * {@link Principal}; the schema authorises operations against it, the audit log names it.
 */

/** `workflows:read` allows queries and subscriptions; `workflows:write` allows every mutation. */
export type Scope = 'workflows:read' | 'workflows:write';
export const SCOPES: readonly Scope[] = ['workflows:read', 'workflows:write'];

export type AuthMode = 'none' | 'api-key' | 'jwt' | 'cloudflare-token';

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
}

/** The principal of `AUTH_MODE=none`: everything allowed, named `anonymous`. */
export const ANONYMOUS: Principal = Object.freeze({
  id: 'anonymous',
  mode: 'none',
  scopes: new Set<Scope>(SCOPES),
  workflows: null,
});

/**
 * Whether `workflowName` matches one of the principal's workflow patterns (names, or globs where `*` matches
 * any run of characters). Schema resolvers ask for every field that reads data, so it allocates nothing.
 */
export function workflowAllowed(principal: Principal, workflowName: string): boolean {
  if (principal.workflows === null) return true;
  return principal.workflows.some((pattern) => globMatches(pattern, workflowName));
}

/**
 * `*` globs without regular expressions: the literal runs between stars are found left to right, each at its
 * first place after the previous one, which is enough when `*` is the only wildcard. Time is linear in the name
 * per run, so a long name cannot make matching slow.
 */
function globMatches(pattern: string, name: string): boolean {
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === name;
  const runs = pattern.split('*');
  const head = runs[0] ?? '';
  const tail = runs[runs.length - 1] ?? '';
  if (name.length < head.length + tail.length || !name.startsWith(head) || !name.endsWith(tail)) return false;
  let at = head.length;
  const end = name.length - tail.length;
  for (let i = 1; i < runs.length - 1; i++) {
    const run = runs[i] ?? '';
    const found = name.indexOf(run, at);
    if (found < 0 || found + run.length > end) return false;
    at = found + run.length;
  }
  return true;
}
