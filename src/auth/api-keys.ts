/**
 * `AUTH_MODE=api-key`: clients send a key as `Authorization: Bearer <key>`; `API_KEYS_FILE` lists the SHA-256
 * digests of the keys it accepts, with each key's id, scopes and optional workflow allowlist. The keys themselves
 * are stored nowhere: `npm run api-key` (scripts/api-key.ts) prints a new one once, with its entry.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../config.js';
import { MAX_WORKFLOW_NAME_LENGTH, NAME_PATTERN } from '../identifiers.js';
import { bearerCredential } from './bearer.js';
import { AuthenticationFailure, SCOPES, type Authenticator, type Principal, type Scope } from './principal.js';
import { VerifiedCredentials } from './verified-credentials.js';

/** One entry of `API_KEYS_FILE`, a JSON array of them. */
export interface ApiKeyEntry {
  /** Names the key in logs and the audit trail: letters, digits and `._:@-`, at most 64. */
  readonly id: string;
  /** Lowercase hex SHA-256 of the key's UTF-8 bytes. */
  readonly sha256: string;
  readonly scopes: readonly Scope[];
  /** Workflow names or `*` globs the key may touch; absent means every workflow. */
  readonly workflows?: readonly string[];
}

/** Prefix of generated keys, so that a leaked one is recognisable (secret scanners, logs). */
export const API_KEY_PREFIX = 'wfgql_';
/** Random bytes in a generated key (256 bits). */
export const API_KEY_BYTES = 32;

const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const ENTRY_FIELDS = new Set(['id', 'sha256', 'scopes', 'workflows']);

export const sha256Hex = (key: string): string => createHash('sha256').update(key, 'utf8').digest('hex');

/** A new random key and its entry: the key is shown once and never stored. */
export function createApiKey(
  options: { id: string; scopes: readonly Scope[]; workflows?: readonly string[] },
  random: (size: number) => Buffer = randomBytes,
): { key: string; entry: ApiKeyEntry } {
  const key = `${API_KEY_PREFIX}${random(API_KEY_BYTES).toString('base64url')}`;
  const entry: ApiKeyEntry = {
    id: options.id,
    sha256: sha256Hex(key),
    scopes: [...options.scopes],
    ...(options.workflows === undefined ? {} : { workflows: [...options.workflows] }),
  };
  const problems = entryProblems(entry, 'the new entry');
  if (problems.length > 0) throw new ConfigError(problems);
  return { key, entry };
}

/** What is wrong with a workflow allowlist pattern, if anything: a name in which `*` may stand for any run. */
export function workflowPatternProblem(pattern: unknown): string | undefined {
  if (typeof pattern !== 'string') return 'must be a string';
  // Each `*` stands for at least one character of a name here, so the rest must fit the name rule.
  const asName = pattern.replaceAll('*', 'a');
  if (pattern.length > MAX_WORKFLOW_NAME_LENGTH || !NAME_PATTERN.test(asName)) {
    return `must be a workflow name or a glob such as "order-*" (letters, digits, "-", "_", "*"; at most ${MAX_WORKFLOW_NAME_LENGTH})`;
  }
  return undefined;
}

/**
 * What is wrong with one entry; `where` locates it ("API_KEYS_FILE entry 2"). Values are never echoed, only
 * field names, so that a key pasted into the wrong field cannot reach a log.
 */
function entryProblems(value: unknown, where: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [`${where} must be an object { "id", "sha256", "scopes", "workflows"? }`];
  }
  const entry = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of Object.keys(entry).filter((f) => !ENTRY_FIELDS.has(f))) {
    problems.push(`${where} has an unknown field "${field.slice(0, 40)}" (allowed: id, sha256, scopes, workflows)`);
  }
  if (typeof entry.id !== 'string' || !KEY_ID_PATTERN.test(entry.id)) {
    problems.push(`${where}: "id" must be 1 to 64 letters, digits or ._:@- (starting with a letter or digit)`);
  }
  if (typeof entry.sha256 !== 'string' || !SHA256_PATTERN.test(entry.sha256)) {
    problems.push(`${where}: "sha256" must be the key's SHA-256 as 64 lowercase hex digits (not the key itself)`);
  }
  if (
    !Array.isArray(entry.scopes) ||
    entry.scopes.length === 0 ||
    entry.scopes.some((s) => !(SCOPES as readonly unknown[]).includes(s))
  ) {
    problems.push(`${where}: "scopes" must be a non-empty array of ${SCOPES.map((s) => `"${s}"`).join(', ')}`);
  }
  if (entry.workflows !== undefined) {
    if (!Array.isArray(entry.workflows) || entry.workflows.length === 0) {
      problems.push(`${where}: "workflows", when present, must be a non-empty array (omit it to allow every workflow)`);
    } else {
      entry.workflows.forEach((pattern, i) => {
        const problem = workflowPatternProblem(pattern);
        if (problem !== undefined) problems.push(`${where}: "workflows"[${i}] ${problem}`);
      });
    }
  }
  return problems;
}

/**
 * Parses and validates the text of `API_KEYS_FILE`.
 * @throws {@link ConfigError} listing every problem (entry by entry, ids and field names only, never a value).
 */
export function parseApiKeys(text: string, source = 'API_KEYS_FILE'): ApiKeyEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error, which may be key material.
    throw new ConfigError([`${source} is not valid JSON`]);
  }
  if (!Array.isArray(parsed)) throw new ConfigError([`${source} must hold a JSON array of key entries`]);
  const problems = parsed.flatMap((entry, i) => {
    const id = (entry as { id?: unknown } | null)?.id;
    const label = typeof id === 'string' && KEY_ID_PATTERN.test(id) ? ` ("${id}")` : '';
    return entryProblems(entry, `${source} entry ${i + 1}${label}`);
  });
  const entries = parsed as ApiKeyEntry[];
  if (problems.length === 0) {
    for (const field of ['id', 'sha256'] as const) {
      const seen = new Set<string>();
      for (const [i, entry] of entries.entries()) {
        if (seen.has(entry[field])) problems.push(`${source} entry ${i + 1}: another entry has the same ${field}`);
        seen.add(entry[field]);
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return entries;
}

/** Verified keys kept at most. */
const VERIFIED_KEYS_KEPT = 10_000;

interface LoadedKey {
  readonly digest: Buffer;
  readonly principal: Principal;
}

function load(entries: readonly ApiKeyEntry[]): readonly LoadedKey[] {
  return entries.map((entry) => ({
    digest: Buffer.from(entry.sha256, 'hex'),
    principal: Object.freeze({
      id: entry.id,
      mode: 'api-key' as const,
      scopes: new Set(entry.scopes),
      workflows: entry.workflows === undefined ? null : Object.freeze([...entry.workflows]),
    }),
  }));
}

export interface ApiKeyAuthenticator extends Authenticator {
  /**
   * Re-reads `API_KEYS_FILE` (main calls it on SIGHUP) and swaps every key at once.
   * @throws {@link ConfigError} when the file cannot be read or is invalid; the keys loaded before stay in force,
   * so a half-written file never locks every client out.
   */
  reload(): Promise<void>;
  /** How many keys are in force (for the reload log line). */
  readonly size: number;
}

/**
 * The `api-key` authenticator over the file at `path`, loaded now.
 *
 * Lookup: the presented key is hashed once, then compared with `crypto.timingSafeEqual` against every entry's
 * digest, without stopping at a match, so the time taken does not depend on which entry (if any) matches nor on
 * how many leading bytes agree. A Map keyed by digest would also be safe (timing could only reveal bits of the
 * digest of an attacker-chosen input, which says nothing about stored keys), but key files are small and the
 * linear scan needs no such argument. A key found is then remembered ({@link VerifiedCredentials}), so the next
 * requests that present it skip the hash: a lookup keyed by the presented key, whose timing can only tell a
 * client whether the very key it sent was used recently. The price is that keys in use sit in the process's memory
 * (a heap snapshot or core dump holds them) until the file is reloaded, as JWTs do in src/auth/jwt.ts.
 * @throws {@link ConfigError} when the file cannot be read or is invalid.
 */
export async function createApiKeyAuthenticator(path: string): Promise<ApiKeyAuthenticator> {
  const read = async (): Promise<readonly LoadedKey[]> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new ConfigError([`API_KEYS_FILE could not be read ("${path}": ${(error as NodeJS.ErrnoException).code})`]);
    }
    return load(parseApiKeys(text));
  };
  let keys = await read();
  const verified = new VerifiedCredentials<Principal>(VERIFIED_KEYS_KEPT);
  return {
    mode: 'api-key',
    get size() {
      return keys.length;
    },
    async authenticate(authorization) {
      const presented = bearerCredential(authorization, 'API key');
      const known = verified.get(presented);
      if (known !== undefined) return known;
      const digest = createHash('sha256').update(presented, 'utf8').digest();
      let found: Principal | undefined;
      for (const key of keys) if (timingSafeEqual(digest, key.digest)) found = key.principal;
      if (found === undefined) throw new AuthenticationFailure('Invalid API key');
      verified.remember(presented, found);
      return found;
    },
    async reload() {
      keys = await read();
      // A key removed from the file (or given other scopes) must not go on as it was.
      verified.clear();
    },
  };
}
