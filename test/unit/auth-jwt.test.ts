import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../src/auth/index.js';
import { createJwtAuthenticator, KeySetUnavailable } from '../../src/auth/jwt.js';
import { AuthenticationFailure, type Authenticator, type Principal } from '../../src/auth/principal.js';
import { ConfigError, loadConfig, type JwtConfig } from '../../src/config.js';

const ISSUER = 'https://issuer.example';
const AUDIENCE = 'workflows-graphql';
const SECRET = 'a-test-secret-of-at-least-32-bytes-0123456789';
const NO_HEADERS = new Headers();

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly pair: KeyPair;
}

async function signingKey(kid: string, alg: string): Promise<SigningKey> {
  return { kid, alg, pair: await generateKeyPair(alg) };
}

const publicJwk = async ({ kid, alg, pair }: SigningKey): Promise<JWK> => ({
  ...(await exportJWK(pair.publicKey)),
  kid,
  alg,
  use: 'sig',
});

const nowS = () => Math.floor(Date.now() / 1000);

/** A token signed by `key` with valid defaults (issuer, audience, subject, an hour of life), then `claims`. */
function sign(
  key: SigningKey | { secret: string; alg: string },
  claims: JWTPayload = {},
  header = {},
): Promise<string> {
  const payload: JWTPayload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', exp: nowS() + 3600, ...claims };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  const jwt = new SignJWT(payload).setProtectedHeader({
    alg: key.alg,
    ...('kid' in key ? { kid: key.kid } : {}),
    ...header,
  });
  return 'secret' in key ? jwt.sign(new TextEncoder().encode(key.secret)) : jwt.sign(key.pair.privateKey);
}

/** A JWKS endpoint on an ephemeral loopback port, serving `keys` (replaceable) and counting fetches. */
interface JwksServer {
  readonly url: string;
  keys: JWK[];
  status: number;
  fetches: number;
  close(): Promise<void>;
}

async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const state = { keys, status: 200, fetches: 0 };
  const server: Server = createServer((_req, res) => {
    state.fetches += 1;
    res.writeHead(state.status, { 'content-type': 'application/json' });
    res.end(state.status === 200 ? JSON.stringify({ keys: state.keys }) : '{"error":"down"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  });
}

/** The failure `authenticate` rejects with; its message never contains the token. */
async function failureOf(auth: Authenticator, token: string): Promise<string> {
  const error = await auth.authenticate(`Bearer ${token}`, NO_HEADERS).then(
    () => expect.unreachable('expected an AuthenticationFailure'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthenticationFailure);
  expect((error as Error).message).not.toContain(token);
  return (error as Error).message;
}

const verify = (auth: Authenticator, token: string): Promise<Principal> =>
  auth.authenticate(`Bearer ${token}`, NO_HEADERS);

let rsa: SigningKey;
let ec: SigningKey;
let jwks: JwksServer;
let dir: string;
beforeAll(async () => {
  [rsa, ec] = await Promise.all([signingKey('rsa-1', 'RS256'), signingKey('ec-1', 'ES256')]);
  jwks = await startJwksServer([await publicJwk(rsa), await publicJwk(ec)]);
  dir = await mkdtemp(join(tmpdir(), 'auth-jwt-'));
});
afterAll(async () => {
  await jwks.close();
  await rm(dir, { recursive: true, force: true });
});

const jwtConfig = (overrides: Partial<JwtConfig> = {}): JwtConfig => ({
  key: { kind: 'jwks', url: jwks.url },
  issuer: ISSUER,
  audience: AUDIENCE,
  algorithms: ['RS256', 'ES256'],
  scopesClaim: 'scope',
  workflowsClaim: undefined,
  ...overrides,
});

describe('the jwt authenticator, against a JWKS endpoint', () => {
  it('accepts RS256 and ES256 tokens: principal id from sub, scopes from scope, expiry from exp', async () => {
    const auth = await createJwtAuthenticator(jwtConfig());
    const exp = nowS() + 600;
    const principal = await verify(auth, await sign(rsa, { exp, scope: 'openid workflows:read profile' }));
    expect(principal).toMatchObject({ id: 'user-1', mode: 'jwt', workflows: null, expiresAt: exp * 1000 });
    expect([...principal.scopes]).toEqual(['workflows:read']);
    const fromEc = await verify(auth, await sign(ec, { sub: 'svc-2', scope: 'workflows:write workflows:read' }));
    expect(fromEc.id).toBe('svc-2');
    expect([...fromEc.scopes].sort()).toEqual(['workflows:read', 'workflows:write']);
  });

  it('goes through createAuthenticator from the environment', async () => {
    const config = loadConfig({ AUTH_MODE: 'jwt', JWT_JWKS_URL: jwks.url, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    const auth = await createAuthenticator(config);
    expect(auth.mode).toBe('jwt');
    await expect(verify(auth, await sign(ec))).resolves.toMatchObject({ id: 'user-1' });
  });

  it('refuses an expired token, and accepts one within the clock tolerance', async () => {
    const auth = await createJwtAuthenticator(jwtConfig());
    expect(await failureOf(auth, await sign(rsa, { exp: nowS() - 120 }))).toBe('The JWT has expired');
    await expect(verify(auth, await sign(rsa, { exp: nowS() - 5 }))).resolves.toMatchObject({ id: 'user-1' });
    expect(await failureOf(auth, await sign(rsa, { nbf: nowS() + 600 }))).toBe(
      'The JWT\'s "nbf" claim is not accepted',
    );
  });

  it('refuses another issuer or audience, and tokens without sub or exp', async () => {
    const auth = await createJwtAuthenticator(jwtConfig());
    expect(await failureOf(auth, await sign(rsa, { iss: 'https://evil.example' }))).toBe(
      'The JWT\'s "iss" claim is not accepted',
    );
    expect(await failureOf(auth, await sign(rsa, { aud: 'another-api' }))).toBe(
      'The JWT\'s "aud" claim is not accepted',
    );
    expect(await failureOf(auth, await sign(rsa, { sub: undefined }))).toBe('The JWT has no "sub" claim');
    expect(await failureOf(auth, await sign(rsa, { exp: undefined }))).toBe('The JWT has no "exp" claim');
  });

  it('refuses algorithms not in JWT_ALGORITHMS, HMAC tokens included', async () => {
    const auth = await createJwtAuthenticator(jwtConfig({ algorithms: ['RS256'] }));
    expect(await failureOf(auth, await sign(ec))).toBe("The JWT's algorithm is not accepted");
    expect(await failureOf(auth, await sign({ secret: SECRET, alg: 'HS256' }, {}, { kid: rsa.kid }))).toBe(
      "The JWT's algorithm is not accepted",
    );
    await expect(verify(auth, await sign(rsa))).resolves.toMatchObject({ id: 'user-1' });
  });

  it('refuses a token naming an unknown key, one with a forged signature, and garbage', async () => {
    const auth = await createJwtAuthenticator(jwtConfig());
    const stranger = await signingKey('rsa-unknown', 'RS256');
    expect(await failureOf(auth, await sign(stranger))).toBe('No known key matches the JWT ("kid" and "alg")');
    expect(await failureOf(auth, await sign({ ...stranger, kid: rsa.kid }))).toBe("The JWT's signature is invalid");
    expect(await failureOf(auth, 'not.a.jwt')).toBe('The JWT is malformed');
  });

  it('picks up a rotated key set: a new kid makes jose fetch again, and the retired key is refused', async () => {
    const server = await startJwksServer([await publicJwk(rsa)]);
    try {
      const auth = await createJwtAuthenticator(jwtConfig({ key: { kind: 'jwks', url: server.url } }), {
        jwksCooldownMs: 0,
      });
      await expect(verify(auth, await sign(rsa))).resolves.toMatchObject({ id: 'user-1' });
      await expect(verify(auth, await sign(rsa, { sub: 'user-2' }))).resolves.toMatchObject({ id: 'user-2' });
      expect(server.fetches).toBe(1);

      const next = await signingKey('rsa-2', 'RS256');
      server.keys = [await publicJwk(next)];
      await expect(verify(auth, await sign(next))).resolves.toMatchObject({ id: 'user-1' });
      expect(server.fetches).toBe(2);
      // A token of the retired key not verified before: one verified within the last 30 s stays trusted until then
      // (src/auth/jwt.ts, VERIFIED_TOKEN_TTL_MS).
      expect(await failureOf(auth, await sign(rsa, { sub: 'user-3' }))).toBe(
        'No known key matches the JWT ("kid" and "alg")',
      );
    } finally {
      await server.close();
    }
  });

  it('does not refetch within the cooldown, so unknown kids cannot hammer the key endpoint', async () => {
    const server = await startJwksServer([await publicJwk(rsa)]);
    try {
      const auth = await createJwtAuthenticator(jwtConfig({ key: { kind: 'jwks', url: server.url } }), {
        jwksCooldownMs: 60_000,
      });
      await verify(auth, await sign(rsa));
      const stranger = await signingKey('rsa-unknown', 'RS256');
      for (let i = 0; i < 3; i++) await failureOf(auth, await sign(stranger));
      expect(server.fetches).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('reports an unreachable or failing key endpoint as KeySetUnavailable, not as the client’s fault', async () => {
    const server = await startJwksServer([]);
    server.status = 500;
    const auth = await createJwtAuthenticator(jwtConfig({ key: { kind: 'jwks', url: server.url } }));
    const token = await sign(rsa);
    await expect(verify(auth, token)).rejects.toBeInstanceOf(KeySetUnavailable);
    await server.close();
    const error = await verify(auth, token).then(
      () => expect.unreachable('expected KeySetUnavailable'),
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(KeySetUnavailable);
    expect(error.message).not.toContain(token);
  });
});

describe('the jwt authenticator, with JWT_SECRET or JWT_PUBLIC_KEY_FILE', () => {
  it('verifies HS256 tokens with the secret and refuses another secret', async () => {
    const auth = await createJwtAuthenticator(
      jwtConfig({ key: { kind: 'secret', secret: SECRET }, algorithms: ['HS256'] }),
    );
    await expect(verify(auth, await sign({ secret: SECRET, alg: 'HS256' }))).resolves.toMatchObject({ id: 'user-1' });
    const forged = await sign({ secret: `${SECRET}-other`, alg: 'HS256' });
    expect(await failureOf(auth, forged)).toBe("The JWT's signature is invalid");
    expect(await failureOf(auth, await sign(rsa))).toBe("The JWT's algorithm is not accepted");
  });

  it('trusts a verified token again without re-checking it, but never past its exp', async () => {
    let clock = Date.now();
    const auth = await createJwtAuthenticator(
      jwtConfig({ key: { kind: 'secret', secret: SECRET }, algorithms: ['HS256'] }),
      { now: () => clock },
    );
    const exp = Math.floor(clock / 1000) + 10;
    const token = await sign({ secret: SECRET, alg: 'HS256' }, { exp });
    await expect(verify(auth, token)).resolves.toMatchObject({ id: 'user-1', expiresAt: exp * 1000 });
    clock += 5_000;
    await expect(verify(auth, token)).resolves.toMatchObject({ id: 'user-1' });
    // Past exp and the clock tolerance: the remembered answer must not outlive the token.
    clock = exp * 1000 + 60_000;
    expect(await failureOf(auth, token)).toBe('The JWT has expired');
  });

  it('verifies with a PEM public key file, for each configured algorithm the key fits', async () => {
    const path = join(dir, 'ec.pem');
    await writeFile(path, await exportSPKI(ec.pair.publicKey));
    const auth = await createJwtAuthenticator(jwtConfig({ key: { kind: 'public-key-file', path } }));
    // No kid needed: there is one key.
    await expect(verify(auth, await sign({ ...ec, kid: 'anything' }))).resolves.toMatchObject({ id: 'user-1' });
    expect(await failureOf(auth, await sign(rsa))).toBe("The JWT's algorithm does not fit the server's key");
    const other = await signingKey('ec-2', 'ES256');
    expect(await failureOf(auth, await sign(other))).toBe("The JWT's signature is invalid");
  });

  it('refuses to start with a key file no configured algorithm can use', async () => {
    const ecPath = join(dir, 'ec-only.pem');
    await writeFile(ecPath, await exportSPKI(ec.pair.publicKey));
    await expect(
      createJwtAuthenticator(jwtConfig({ key: { kind: 'public-key-file', path: ecPath }, algorithms: ['RS256'] })),
    ).rejects.toThrow(ConfigError);
    const junk = join(dir, 'junk.pem');
    await writeFile(junk, 'not a key');
    await expect(createJwtAuthenticator(jwtConfig({ key: { kind: 'public-key-file', path: junk } }))).rejects.toThrow(
      /JWT_PUBLIC_KEY_FILE \(".*junk.pem"\) must hold a PEM public key/,
    );
  });
});

describe('scopes and workflows from claims', () => {
  it('reads scopes from a space-separated string or an array, in the configured claim, ignoring unknown ones', async () => {
    const auth = await createJwtAuthenticator(jwtConfig({ scopesClaim: 'scp' }));
    const scopes = async (claims: JWTPayload) => [...(await verify(auth, await sign(rsa, claims))).scopes].sort();
    expect(await scopes({ scp: ['workflows:write', 'admin'] })).toEqual(['workflows:write']);
    expect(await scopes({ scp: 'workflows:read  workflows:write' })).toEqual(['workflows:read', 'workflows:write']);
    expect(await scopes({ scope: 'workflows:read' })).toEqual([]);
    expect(await scopes({ scp: 42 })).toEqual([]);
  });

  it('reads the workflow allowlist from JWT_WORKFLOWS_CLAIM: absent means every workflow, a non-array is refused', async () => {
    const auth = await createJwtAuthenticator(jwtConfig({ workflowsClaim: 'workflows' }));
    const workflows = async (claims: JWTPayload) => (await verify(auth, await sign(rsa, claims))).workflows;
    expect(await workflows({ workflows: ['order-*', 'billing'] })).toEqual(['order-*', 'billing']);
    expect(await workflows({})).toBeNull();
    expect(await failureOf(auth, await sign(rsa, { workflows: 'order-*' }))).toBe(
      'The JWT\'s "workflows" claim must be an array of workflow names or globs',
    );
    const ignoring = await createJwtAuthenticator(jwtConfig());
    expect((await verify(ignoring, await sign(rsa, { workflows: ['order-*'] }))).workflows).toBeNull();
  });

  it('refuses a subject that could forge a log line', async () => {
    const auth = await createJwtAuthenticator(jwtConfig());
    expect(await failureOf(auth, await sign(rsa, { sub: 'user\nINFO forged' }))).toMatch(/"sub" claim must be/);
  });
});
