/**
 * The gateway's environment and a client credential for each AUTH_MODE that S1AUTH compares: `none`,
 * `api-key` (an API_KEYS_FILE written for the run) and `jwt` (an HS256 JWT_SECRET and a token signed with it).
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { createApiKey } from '../../src/auth/api-keys.js';

export const BENCH_AUTH_MODES = ['none', 'api-key', 'jwt'] as const;
export type BenchAuthMode = (typeof BENCH_AUTH_MODES)[number];

export interface AuthSetup {
  /** Added to the gateway's environment; empty for `none` (AUTH_MODE unset). */
  readonly env: Readonly<Record<string, string>>;
  /** The `Authorization` header every request of the run carries. */
  readonly authorization: string;
}

/** What the key and the token grant: read access to the one workflow the scenario queries, as a real client would get. */
const SCOPES = ['workflows:read'] as const;
const SUBJECT = 'bench-client';
const ISSUER = 'https://issuer.bench.invalid/';
const AUDIENCE = 'workflows-graphql-bench';
const WORKFLOWS_CLAIM = 'workflows';

/**
 * Writes what the modes need into `dir` (a fresh temporary directory the caller removes) and returns each
 * mode's setup. `none` carries the JWT, the longest of the credentials, so that the authenticated runs do not
 * read more header bytes than the run they are compared with: the difference is the authenticator's work.
 */
export async function createAuthSetups(dir: string, workflowName: string): Promise<Record<BenchAuthMode, AuthSetup>> {
  const { key, entry } = createApiKey({ id: SUBJECT, scopes: SCOPES, workflows: [workflowName] });
  const apiKeysFile = join(dir, 'api-keys.json');
  await writeFile(apiKeysFile, `${JSON.stringify([entry], null, 2)}\n`, { mode: 0o600 });

  // 32 random bytes, base64url: 43 characters, above JWT_SECRET's 32-byte minimum (src/config.ts).
  const secret = randomBytes(32).toString('base64url');
  const token = await new SignJWT({ scope: SCOPES.join(' '), [WORKFLOWS_CLAIM]: [workflowName] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(SUBJECT)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    // Outlives any run: an expired token would turn the measurement into 401s (which assertClean refuses).
    .setExpirationTime('6h')
    .sign(new TextEncoder().encode(secret));

  return {
    none: { env: {}, authorization: `Bearer ${token}` },
    'api-key': { env: { AUTH_MODE: 'api-key', API_KEYS_FILE: apiKeysFile }, authorization: `Bearer ${key}` },
    jwt: {
      env: {
        AUTH_MODE: 'jwt',
        JWT_SECRET: secret,
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        JWT_WORKFLOWS_CLAIM: WORKFLOWS_CLAIM,
      },
      authorization: `Bearer ${token}`,
    },
  };
}
