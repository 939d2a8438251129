import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackHost, loadConfig } from '../../src/config.js';
import { problemsOf } from '../helpers/config.js';

const ACCOUNT = 'a'.repeat(32);
const SECRET = 'jwt-secret-that-is-long-enough-0123456789';

let dir: string;
let keysFile: string;
let pemFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auth-config-'));
  keysFile = join(dir, 'keys.json');
  pemFile = join(dir, 'key.pem');
  await writeFile(keysFile, '[]');
  await writeFile(pemFile, '-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const JWT_BASE = { AUTH_MODE: 'jwt', JWT_ISSUER: 'https://issuer.example', JWT_AUDIENCE: 'workflows-graphql' };

describe('AUTH_MODE on loopback and elsewhere', () => {
  it.each(['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST'])(
    'defaults to none on the loopback HOST %s',
    (host) => {
      expect(loadConfig({ HOST: host }).auth).toEqual({
        mode: 'none',
        explicitNone: false,
        apiKeysFile: undefined,
        jwt: undefined,
      });
    },
  );

  it.each(['0.0.0.0', '::', '10.0.0.5', 'graphql.example.com', '128.0.0.1'])(
    'refuses to start on the non-loopback HOST %s without AUTH_MODE, explaining the modes',
    (host) => {
      // ALLOWED_HOSTS is set, so that the only problem left is AUTH_MODE (ALLOWED_HOSTS has its own tests).
      const problems = problemsOf({ HOST: host, ALLOWED_HOSTS: '*' });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(
        new RegExp(`^AUTH_MODE is required when HOST \\(${host.replace(/\./g, '\\.')}\\) is not a loopback address`),
      );
      for (const mode of ['api-key', 'jwt', 'cloudflare-token', 'none']) expect(problems[0]).toContain(`${mode} (`);
      expect(problems[0]).toContain('API_KEYS_FILE');
    },
  );

  it('starts without authentication elsewhere only when AUTH_MODE=none is explicit, and says so', () => {
    expect(loadConfig({ HOST: '0.0.0.0', AUTH_MODE: 'none', ALLOWED_HOSTS: '*' }).auth).toMatchObject({
      mode: 'none',
      explicitNone: true,
    });
    expect(loadConfig({ AUTH_MODE: 'NONE' }).auth.explicitNone).toBe(true);
  });

  it('refuses an unknown mode', () => {
    expect(problemsOf({ AUTH_MODE: 'apikey' })).toEqual([
      'AUTH_MODE must be one of none, api-key, jwt, cloudflare-token (got "apikey")',
    ]);
  });

  it("refuses another mode's variables, which would look like protection that is not there", () => {
    expect(problemsOf({ API_KEYS_FILE: keysFile })).toEqual([
      'API_KEYS_FILE is set but AUTH_MODE is none; it only applies with AUTH_MODE=api-key',
    ]);
    expect(problemsOf({ AUTH_MODE: 'api-key', API_KEYS_FILE: keysFile, JWT_ISSUER: 'https://i.example' })).toEqual([
      'JWT_ISSUER is set but AUTH_MODE is api-key; it only applies with AUTH_MODE=jwt',
    ]);
  });

  it('agrees with isLoopbackHost', () => {
    expect(['127.0.0.1', '::1', '[::1]', 'localhost'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', 'localhost.example.com'].some(isLoopbackHost)).toBe(false);
  });
});

describe('AUTH_MODE=api-key', () => {
  it('needs a readable API_KEYS_FILE', () => {
    expect(loadConfig({ AUTH_MODE: 'api-key', API_KEYS_FILE: keysFile }).auth).toMatchObject({
      mode: 'api-key',
      apiKeysFile: keysFile,
    });
    expect(problemsOf({ AUTH_MODE: 'api-key' })).toEqual([
      'API_KEYS_FILE is required with AUTH_MODE=api-key (create entries with `npm run api-key`)',
    ]);
    const missing = join(dir, 'missing.json');
    expect(problemsOf({ AUTH_MODE: 'api-key', API_KEYS_FILE: missing })).toEqual([
      `API_KEYS_FILE must be a readable file (got "${missing}": ENOENT)`,
    ]);
  });
});

describe('AUTH_MODE=jwt', () => {
  it('reads the key source, issuer, audience and the documented defaults', () => {
    const jwks = 'https://issuer.example/.well-known/jwks.json';
    expect(loadConfig({ ...JWT_BASE, JWT_JWKS_URL: jwks }).auth.jwt).toEqual({
      key: { kind: 'jwks', url: jwks },
      issuer: 'https://issuer.example',
      audience: 'workflows-graphql',
      algorithms: ['RS256', 'ES256'],
      scopesClaim: 'scope',
      workflowsClaim: undefined,
    });
    expect(
      loadConfig({
        ...JWT_BASE,
        JWT_PUBLIC_KEY_FILE: pemFile,
        JWT_ALGORITHMS: 'ES384, EdDSA',
        JWT_SCOPES_CLAIM: 'scp',
        JWT_WORKFLOWS_CLAIM: 'wf',
      }).auth.jwt,
    ).toMatchObject({
      key: { kind: 'public-key-file', path: pemFile },
      algorithms: ['ES384', 'EdDSA'],
      scopesClaim: 'scp',
      workflowsClaim: 'wf',
    });
    // A secret verifies HMAC tokens only, so its default algorithm is HS256.
    expect(loadConfig({ ...JWT_BASE, JWT_SECRET: SECRET }).auth.jwt).toMatchObject({
      key: { kind: 'secret', secret: SECRET },
      algorithms: ['HS256'],
    });
    expect(loadConfig({ ...JWT_BASE, JWT_JWKS_URL: 'http://127.0.0.1:9000/jwks' }).auth.jwt?.key).toEqual({
      kind: 'jwks',
      url: 'http://127.0.0.1:9000/jwks',
    });
  });

  it('requires the issuer, the audience and exactly one key source', () => {
    expect(problemsOf({ AUTH_MODE: 'jwt' })).toEqual([
      'JWT_ISSUER is required with AUTH_MODE=jwt',
      'JWT_AUDIENCE is required with AUTH_MODE=jwt',
      'AUTH_MODE=jwt needs exactly one key source: JWT_JWKS_URL, JWT_PUBLIC_KEY_FILE or JWT_SECRET (got none)',
    ]);
    const problems = problemsOf({ ...JWT_BASE, JWT_JWKS_URL: 'https://i.example/jwks', JWT_SECRET: SECRET });
    expect(problems).toEqual([
      'AUTH_MODE=jwt needs exactly one key source: JWT_JWKS_URL, JWT_PUBLIC_KEY_FILE or JWT_SECRET (got JWT_JWKS_URL and JWT_SECRET)',
    ]);
    expect(problems.join('\n')).not.toContain(SECRET);
  });

  it('refuses a JWKS URL over plain http off loopback, an unreadable key file and a short secret, never echoing it', () => {
    expect(problemsOf({ ...JWT_BASE, JWT_JWKS_URL: 'http://issuer.example/jwks' })).toEqual([
      'JWT_JWKS_URL must use https (plain http only on loopback) (got "http://issuer.example/jwks")',
    ]);
    expect(problemsOf({ ...JWT_BASE, JWT_JWKS_URL: 'file:///etc/jwks.json' })).toEqual([
      'JWT_JWKS_URL must be an http(s) URL (got "file:///etc/jwks.json")',
    ]);
    const missing = join(dir, 'missing.pem');
    expect(problemsOf({ ...JWT_BASE, JWT_PUBLIC_KEY_FILE: missing })).toEqual([
      `JWT_PUBLIC_KEY_FILE must be a readable file (got "${missing}": ENOENT)`,
    ]);
    const short = 'too-short-secret';
    const problems = problemsOf({ ...JWT_BASE, JWT_SECRET: short });
    expect(problems).toEqual(['JWT_SECRET must be at least 32 bytes long']);
    expect(problems.join('\n')).not.toContain(short);
  });

  it('refuses unknown algorithms, and mixing HMAC with public keys', () => {
    expect(
      problemsOf({ ...JWT_BASE, JWT_JWKS_URL: 'https://i.example/jwks', JWT_ALGORITHMS: 'RS256,none' })[0],
    ).toMatch(/^JWT_ALGORITHMS must list some of RS256, .*, HS512 \(got "RS256,none"\)$/);
    expect(problemsOf({ ...JWT_BASE, JWT_JWKS_URL: 'https://i.example/jwks', JWT_ALGORITHMS: 'RS256,HS256' })).toEqual([
      'JWT_ALGORITHMS must not list HS256, HS384 or HS512 without JWT_SECRET (got "RS256,HS256")',
    ]);
    const problems = problemsOf({ ...JWT_BASE, JWT_SECRET: SECRET, JWT_ALGORITHMS: 'RS256' });
    expect(problems).toEqual(['JWT_ALGORITHMS must list only HS256, HS384 or HS512 with JWT_SECRET (got "RS256")']);
    expect(problems.join('\n')).not.toContain(SECRET);
  });
});

describe('AUTH_MODE=cloudflare-token', () => {
  it('is remote mode with no server credential, never the embedded emulator', () => {
    const config = loadConfig({ AUTH_MODE: 'cloudflare-token', HOST: '0.0.0.0', ALLOWED_HOSTS: '*' });
    expect(config.mode).toBe('remote');
    expect(config.auth.mode).toBe('cloudflare-token');
    expect(config.upstream).toMatchObject({ apiToken: '', accountId: '' });
  });

  it("takes CLOUDFLARE_ACCOUNT_ID as the default account and never uses the server's token", () => {
    const config = loadConfig({
      AUTH_MODE: 'cloudflare-token',
      CLOUDFLARE_ACCOUNT_ID: ACCOUNT,
      CLOUDFLARE_API_TOKEN: 'server-token-that-stays-unused',
    });
    expect(config.upstream).toMatchObject({ apiToken: '', accountId: ACCOUNT });
    expect(problemsOf({ AUTH_MODE: 'cloudflare-token', CLOUDFLARE_ACCOUNT_ID: 'nope' })).toEqual([
      'CLOUDFLARE_ACCOUNT_ID must be a 32-character hex account id (got "nope")',
    ]);
  });
});
