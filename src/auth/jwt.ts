/**
 * `AUTH_MODE=jwt`: clients send a JWT as `Authorization: Bearer <jwt>`, verified with `jose` against the key
 * source of {@link JwtConfig} (a JWKS URL, a public key file or an HMAC secret), its issuer, audience, algorithms
 * and expiry. The principal is the token's subject, with the scopes and workflow allowlist its claims carry.
 */
import { createSecretKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRemoteJWKSet, errors, importSPKI, importX509, jwtVerify, type JWTPayload } from 'jose';
import { ConfigError, type JwtConfig } from '../config.js';
import { bearerCredential } from './bearer.js';
import { AuthenticationFailure, SCOPES, type Authenticator, type Principal, type Scope } from './principal.js';
import { VerifiedCredentials } from './verified-credentials.js';

/** Clock skew accepted between the token issuer and this server, for `exp` and `nbf`. */
export const JWT_CLOCK_TOLERANCE_S = 30;

export interface JwtAuthenticatorOptions {
  /**
   * How long after a successful JWKS fetch an unknown `kid` may trigger another (jose's `cooldownDuration`);
   * rotation is picked up on the first token signed with a new key once it has passed. @default 30000
   */
  readonly jwksCooldownMs?: number;
  /** How long fetched keys are used before the JWKS is fetched again (jose's `cacheMaxAge`). @default 600000 */
  readonly jwksCacheMaxAgeMs?: number;
  /** Timeout of one JWKS fetch. @default 5000 */
  readonly jwksTimeoutMs?: number;
  /** The clock, in epoch ms (tests). @default Date.now */
  readonly now?: () => number;
}

/**
 * The keys needed to verify tokens could not be obtained (the JWKS endpoint is down, answers an error, or serves
 * something that is not a key set): the server's problem, not the client's, so not an {@link AuthenticationFailure}
 * (answer 503, not 401). The cause says what happened; no token is in it.
 */
export class KeySetUnavailable extends Error {
  override readonly name = 'KeySetUnavailable';
}

type KeySource = Parameters<typeof jwtVerify>[1];

/** What jose reports about the token itself: answered 401 with a message of ours, never jose's own. */
const TOKEN_FAILURES: Readonly<Record<string, string>> = {
  [errors.JWTExpired.code]: 'The JWT has expired',
  [errors.JOSEAlgNotAllowed.code]: "The JWT's algorithm is not accepted",
  [errors.JWKSNoMatchingKey.code]: 'No known key matches the JWT ("kid" and "alg")',
  [errors.JWKSMultipleMatchingKeys.code]: 'Several keys match the JWT: it must name its key ("kid")',
  [errors.JWSSignatureVerificationFailed.code]: "The JWT's signature is invalid",
  [errors.JWSInvalid.code]: 'The JWT is malformed',
  [errors.JWTInvalid.code]: 'The JWT is malformed',
  [errors.JOSENotSupported.code]: 'The JWT uses a feature this server does not support',
};

/** jose's errors about obtaining keys rather than about the token. */
const KEY_SET_FAILURES = new Set<string>([
  errors.JWKSTimeout.code,
  errors.JWKSInvalid.code,
  errors.JWKInvalid.code,
  errors.JOSEError.code, // jose's generic error: the JWKS answered other than 200, or not JSON
]);

/**
 * The `jwt` authenticator. A public key file is read and imported now; a JWKS is fetched on the first token and
 * then cached by jose, which fetches again when the cache is older than `jwksCacheMaxAgeMs`, or when a token names
 * an unknown key and the cooldown has passed (key rotation).
 * @throws {@link ConfigError} when the public key file cannot be used with any of the configured algorithms.
 */
export async function createJwtAuthenticator(
  config: JwtConfig,
  options: JwtAuthenticatorOptions = {},
): Promise<Authenticator> {
  const key = await keySource(config, options);
  const now = options.now ?? Date.now;
  const verified = new VerifiedCredentials<VerifiedToken>(VERIFIED_TOKENS_KEPT);
  return {
    mode: 'jwt',
    async authenticate(authorization) {
      const token = bearerCredential(authorization, 'JWT');
      const known = verified.get(token);
      if (known !== undefined && known.until > now()) return known.principal;
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: [...config.algorithms],
          clockTolerance: JWT_CLOCK_TOLERANCE_S,
          // Without exp a token would be valid forever, and sockets it opened would never close.
          requiredClaims: ['sub', 'exp'],
          currentDate: new Date(now()),
        }));
      } catch (error) {
        throw asFailure(error);
      }
      const principal = principalOf(payload, config);
      remember(verified, token, principal, now());
      return principal;
    },
  };
}

/** A verified token's principal, and until when it is trusted without checking its signature again. */
interface VerifiedToken {
  readonly principal: Principal;
  readonly until: number;
}

/** Verified tokens kept at most. */
const VERIFIED_TOKENS_KEPT = 10_000;
/** How long a verified token is trusted without checking its signature again. */
const VERIFIED_TOKEN_TTL_MS = 30_000;

/**
 * Remembers a verified token until it expires, for at most {@link VERIFIED_TOKEN_TTL_MS}: a dashboard sends
 * the same JWT with every request, and its signature check is most of authentication's cost per request
 * (test/bench/s1-auth.ts). A token is immutable, so a remembered answer stays right until the token's `exp`;
 * the short TTL bounds how long a key removed from the JWKS keeps verifying tokens it signed.
 */
function remember(verified: VerifiedCredentials<VerifiedToken>, token: string, principal: Principal, at: number): void {
  const until = Math.min(at + VERIFIED_TOKEN_TTL_MS, principal.expiresAt ?? at);
  if (until > at) verified.remember(token, { principal, until });
}

async function keySource(config: JwtConfig, options: JwtAuthenticatorOptions): Promise<KeySource> {
  switch (config.key.kind) {
    case 'jwks':
      return createRemoteJWKSet(new URL(config.key.url), {
        cooldownDuration: options.jwksCooldownMs ?? 30_000,
        cacheMaxAge: options.jwksCacheMaxAgeMs ?? 600_000,
        timeoutDuration: options.jwksTimeoutMs ?? 5_000,
      });
    case 'secret':
      // A KeyObject made once: jose would otherwise import the raw bytes again for every token.
      return createSecretKey(Buffer.from(config.key.secret, 'utf8'));
    case 'public-key-file':
      return publicKeyFile(config.key.path, config.algorithms);
  }
}

/**
 * WebCrypto binds an imported key to one algorithm, so the PEM is imported once per configured algorithm it
 * fits (an RSA key serves RS256 and PS256, say) and each token gets the import for its `alg`.
 */
async function publicKeyFile(path: string, algorithms: readonly string[]): Promise<KeySource> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      `JWT_PUBLIC_KEY_FILE could not be read ("${path}": ${(error as NodeJS.ErrnoException).code})`,
    ]);
  }
  const importPem = pem.includes('-----BEGIN CERTIFICATE-----') ? importX509 : importSPKI;
  const keys = new Map<string, CryptoKey>();
  for (const alg of algorithms) {
    try {
      keys.set(alg, await importPem(pem, alg));
    } catch {
      // This key does not fit this algorithm (an EC key and RS256); another algorithm may fit.
    }
  }
  if (keys.size === 0) {
    throw new ConfigError([
      `JWT_PUBLIC_KEY_FILE ("${path}") must hold a PEM public key ("BEGIN PUBLIC KEY") or certificate usable with one of JWT_ALGORITHMS (${algorithms.join(', ')})`,
    ]);
  }
  return (header) => {
    const found = keys.get(header.alg ?? '');
    if (found === undefined) throw new AuthenticationFailure("The JWT's algorithm does not fit the server's key");
    return found;
  };
}

function asFailure(error: unknown): Error {
  if (error instanceof AuthenticationFailure) return error;
  if (error instanceof errors.JWTClaimValidationFailed) {
    return new AuthenticationFailure(
      error.reason === 'missing'
        ? `The JWT has no "${error.claim}" claim`
        : `The JWT's "${error.claim}" claim is not accepted`,
    );
  }
  if (error instanceof errors.JOSEError && !KEY_SET_FAILURES.has(error.code)) {
    return new AuthenticationFailure(TOKEN_FAILURES[error.code] ?? 'The JWT could not be verified');
  }
  // The JWKS fetch failed (network, timeout, status, content): jose's error goes in the cause.
  return new KeySetUnavailable('The keys to verify JWTs (JWT_JWKS_URL) could not be fetched', { cause: error });
}

function principalOf(payload: JWTPayload, config: JwtConfig): Principal {
  const id = payload.sub!;
  // The id goes into log lines: a control character could forge one.
  // eslint-disable-next-line no-control-regex -- the control characters are exactly what is refused
  if (id === '' || id.length > 256 || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new AuthenticationFailure('The JWT\'s "sub" claim must be 1 to 256 printable characters');
  }
  return Object.freeze({
    id,
    mode: 'jwt' as const,
    scopes: scopesOf(payload[config.scopesClaim]),
    workflows: workflowsOf(payload, config.workflowsClaim),
    expiresAt: payload.exp! * 1000,
  });
}

/** Space-separated (OAuth 2.0's `scope`) or an array; scopes this server does not know are ignored. */
function scopesOf(claim: unknown): ReadonlySet<Scope> {
  const names: unknown[] = typeof claim === 'string' ? claim.split(/\s+/) : Array.isArray(claim) ? claim : [];
  return new Set(SCOPES.filter((scope) => names.includes(scope)));
}

/** Absent claim (or none configured): every workflow. Present: an array of names or globs, else refused. */
function workflowsOf(payload: JWTPayload, claim: string | undefined): readonly string[] | null {
  const value = claim === undefined ? undefined : payload[claim];
  if (value === undefined) return null;
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
    throw new AuthenticationFailure(`The JWT's "${claim}" claim must be an array of workflow names or globs`);
  }
  return Object.freeze([...value]);
}
