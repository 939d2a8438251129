import { ANONYMOUS, type Authenticator } from './principal.js';

/** `AUTH_MODE=none`: every request is {@link ANONYMOUS}, whatever it sends (GraphiQL may send headers). */
export function createNoneAuthenticator(): Authenticator {
  return { mode: 'none', authenticate: () => Promise.resolve(ANONYMOUS) };
}
