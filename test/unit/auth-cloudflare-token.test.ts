import { describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../src/auth/index.js';
import { ANONYMOUS, AuthenticationFailure, type Authenticator } from '../../src/auth/principal.js';
import { loadConfig } from '../../src/config.js';
import { createCredential } from '../../src/upstream/credential.js';

const ACCOUNT_A = 'a'.repeat(32);
const ACCOUNT_B = 'b'.repeat(32);
const TOKEN_A = 'tenant-a-cloudflare-token-0000000000000000';
const TOKEN_B = 'tenant-b-cloudflare-token-0000000000000000';

const authenticator = (env: Record<string, string> = {}) =>
  createAuthenticator(loadConfig({ AUTH_MODE: 'cloudflare-token', ...env }));
const withAccount = (accountId: string) => new Headers({ 'X-Cloudflare-Account-Id': accountId });

async function failureOf(auth: Authenticator, authorization: string | null, headers: Headers): Promise<string> {
  const error = await auth.authenticate(authorization, headers).then(
    () => expect.unreachable('expected an AuthenticationFailure'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthenticationFailure);
  if (authorization !== null) expect((error as Error).message).not.toContain(authorization.replace(/^\S+\s+/, ''));
  return (error as Error).message;
}

describe('the cloudflare-token authenticator', () => {
  it("carries the client's credential, named by the credential key and never by the token", async () => {
    const auth = await authenticator();
    const principal = await auth.authenticate(`Bearer ${TOKEN_A}`, withAccount(ACCOUNT_A));
    const key = createCredential(ACCOUNT_A, TOKEN_A).key;
    expect(principal).toMatchObject({ id: key, mode: 'cloudflare-token', workflows: null });
    expect([...principal.scopes]).toEqual(['workflows:read', 'workflows:write']);
    expect(principal.credential).toMatchObject({ accountId: ACCOUNT_A, apiToken: TOKEN_A });
    expect(principal.id).not.toContain(TOKEN_A);
    expect(JSON.stringify(principal)).not.toContain(TOKEN_A);
  });

  it('gives two tenants, or one token on two accounts, different ids', async () => {
    const auth = await authenticator();
    const ids = await Promise.all(
      [
        [TOKEN_A, ACCOUNT_A],
        [TOKEN_B, ACCOUNT_A],
        [TOKEN_A, ACCOUNT_B],
      ].map(async ([token, account]) => (await auth.authenticate(`Bearer ${token}`, withAccount(account!))).id),
    );
    expect(new Set(ids).size).toBe(3);
    // One account spelled in two cases is one tenant.
    const upper = await auth.authenticate(`Bearer ${TOKEN_A}`, withAccount(ACCOUNT_A.toUpperCase()));
    expect(upper.id).toBe(ids[0]);
  });

  it("falls back to CLOUDFLARE_ACCOUNT_ID, and a client's header overrides it", async () => {
    const auth = await authenticator({ CLOUDFLARE_ACCOUNT_ID: ACCOUNT_B });
    const fallback = await auth.authenticate(`Bearer ${TOKEN_A}`, new Headers());
    expect(fallback.credential?.accountId).toBe(ACCOUNT_B);
    const sent = await auth.authenticate(`Bearer ${TOKEN_A}`, withAccount(ACCOUNT_A));
    expect(sent.credential?.accountId).toBe(ACCOUNT_A);
  });

  it('refuses a missing or malformed token or account id, without repeating them', async () => {
    const auth = await authenticator();
    expect(await failureOf(auth, null, withAccount(ACCOUNT_A))).toMatch(/^Missing credential/);
    expect(await failureOf(auth, `Token ${TOKEN_A}`, withAccount(ACCOUNT_A))).toMatch(/Bearer scheme/);
    expect(await failureOf(auth, 'Bearer short', withAccount(ACCOUNT_A))).toBe(
      'The Cloudflare API token must be 8 to 1024 printable ASCII characters',
    );
    expect(await failureOf(auth, `Bearer ${'x'.repeat(1025)}`, withAccount(ACCOUNT_A))).toMatch(/8 to 1024/);
    expect(await failureOf(auth, `Bearer ${TOKEN_A}é`, withAccount(ACCOUNT_A))).toMatch(/printable ASCII/);
    expect(await failureOf(auth, `Bearer ${TOKEN_A}`, new Headers())).toBe(
      'Missing account id: send your Cloudflare account id in X-Cloudflare-Account-Id',
    );
    expect(await failureOf(auth, `Bearer ${TOKEN_A}`, withAccount(`${ACCOUNT_A}0`))).toBe(
      'X-Cloudflare-Account-Id must be a 32-character hex Cloudflare account id',
    );
  });
});

describe('the none authenticator', () => {
  it('makes every request anonymous, whatever it sends', async () => {
    const auth = await createAuthenticator(loadConfig({}));
    expect(auth.mode).toBe('none');
    await expect(auth.authenticate(null, new Headers())).resolves.toBe(ANONYMOUS);
    await expect(auth.authenticate('Bearer whatever', new Headers())).resolves.toBe(ANONYMOUS);
  });
});
