/**
 * Credentials an authenticator has verified, with what it found: a client sends the same credential with every
 * request, and verifying it (a JWT's signature, an API key's SHA-256) was most of what authentication cost per
 * request (test/bench/s1-auth.ts). Only verified credentials go in, so a client sending garbage cannot fill it;
 * at most `kept` are kept, the least recently verified going first. A lookup by the credential itself tells its
 * caller nothing it did not send: a hit only comes from the exact credential.
 */
export class VerifiedCredentials<V> {
  private readonly entries = new Map<string, V>();

  constructor(private readonly kept: number) {}

  get(credential: string): V | undefined {
    return this.entries.get(credential);
  }

  remember(credential: string, value: V): void {
    this.entries.delete(credential);
    this.entries.set(credential, value);
    if (this.entries.size > this.kept) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  /** Forgets every credential: what verified them has changed (a reloaded key file). */
  clear(): void {
    this.entries.clear();
  }
}
