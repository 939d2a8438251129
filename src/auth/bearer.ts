import { AuthenticationFailure } from './principal.js';

/**
 * The credential of an `Authorization: Bearer <credential>` header (RFC 6750, section 2.1; the scheme is
 * case-insensitive). `what` names the credential in failures ("API key", "JWT", "Cloudflare API token").
 * @throws {@link AuthenticationFailure} when the header is missing, uses another scheme, or does not hold exactly
 * one credential; its message never repeats the header's value.
 */
export function bearerCredential(authorization: string | null, what: string): string {
  const [scheme = '', ...rest] = (authorization ?? '').trim().split(/\s+/);
  const usage = `"Authorization: Bearer <${what}>"`;
  if (scheme === '') throw new AuthenticationFailure(`Missing credential: send your ${what} as ${usage}`);
  if (scheme.toLowerCase() !== 'bearer') {
    throw new AuthenticationFailure(`The Authorization header must use the Bearer scheme: ${usage}`);
  }
  if (rest.length !== 1) throw new AuthenticationFailure(`The Authorization header must hold one ${what}: ${usage}`);
  return rest[0]!;
}
