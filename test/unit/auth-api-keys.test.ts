import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createApiKeyAuthenticator, parseApiKeys, type ApiKeyEntry } from '../../src/auth/api-keys.js';
import { AuthenticationFailure, type Principal } from '../../src/auth/principal.js';
import { ConfigError } from '../../src/config.js';
import { ROOT } from '../helpers/process.js';
import { configProblems } from '../helpers/config.js';

const run = promisify(execFile);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const NO_HEADERS = new Headers();

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auth-api-keys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

let files = 0;
async function keysFile(entries: unknown): Promise<string> {
  const path = join(dir, `keys-${++files}.json`);
  await writeFile(path, typeof entries === 'string' ? entries : JSON.stringify(entries));
  return path;
}

/** The failure `authenticate` rejects with, checked not to repeat `secret`. */
async function failureOf(promise: Promise<Principal>, secret?: string): Promise<AuthenticationFailure> {
  const error = await promise.then(
    () => expect.unreachable('expected an AuthenticationFailure'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthenticationFailure);
  if (secret !== undefined) expect((error as Error).message).not.toContain(secret);
  return error as AuthenticationFailure;
}

const problemsOf = (text: string): readonly string[] => configProblems(() => parseApiKeys(text));

const READ_KEY = 'wfgql_read-key-for-the-dashboard-0000000000000';
const WRITE_KEY = 'wfgql_write-key-for-the-importer-000000000000';
const ENTRIES: ApiKeyEntry[] = [
  { id: 'dash', sha256: sha256(READ_KEY), scopes: ['workflows:read'], workflows: ['order-*'] },
  { id: 'importer', sha256: sha256(WRITE_KEY), scopes: ['workflows:read', 'workflows:write'] },
];

describe('the api-key authenticator', () => {
  it('turns a listed key into its principal: id, scopes and workflow allowlist', async () => {
    const auth = await createApiKeyAuthenticator(await keysFile(ENTRIES));
    const dash = await auth.authenticate(`Bearer ${READ_KEY}`, NO_HEADERS);
    expect(dash).toMatchObject({ id: 'dash', mode: 'api-key', workflows: ['order-*'] });
    expect([...dash.scopes]).toEqual(['workflows:read']);
    const importer = await auth.authenticate(`bearer  ${WRITE_KEY}`, NO_HEADERS);
    expect(importer).toMatchObject({ id: 'importer', workflows: null });
    expect([...importer.scopes]).toEqual(['workflows:read', 'workflows:write']);
    expect(auth.size).toBe(2);
  });

  it('refuses an unknown key, a missing header, another scheme and a header with two credentials', async () => {
    const auth = await createApiKeyAuthenticator(await keysFile(ENTRIES));
    const wrong = 'wfgql_not-a-listed-key-000000000000000000000';
    expect((await failureOf(auth.authenticate(`Bearer ${wrong}`, NO_HEADERS), wrong)).message).toBe('Invalid API key');
    // A listed key's digest is not a key.
    await failureOf(auth.authenticate(`Bearer ${sha256(READ_KEY)}`, NO_HEADERS));
    expect((await failureOf(auth.authenticate(null, NO_HEADERS))).message).toMatch(/^Missing credential/);
    expect((await failureOf(auth.authenticate('', NO_HEADERS))).message).toMatch(/^Missing credential/);
    expect((await failureOf(auth.authenticate(`Basic ${READ_KEY}`, NO_HEADERS), READ_KEY)).message).toMatch(
      /must use the Bearer scheme/,
    );
    expect((await failureOf(auth.authenticate(READ_KEY, NO_HEADERS), READ_KEY)).message).toMatch(/Bearer scheme/);
    await failureOf(auth.authenticate(`Bearer ${READ_KEY} ${WRITE_KEY}`, NO_HEADERS), READ_KEY);
  });

  it('after reload, accepts the rotated key and refuses the one it replaced', async () => {
    const path = await keysFile(ENTRIES);
    const auth = await createApiKeyAuthenticator(path);
    const rotated = 'wfgql_rotated-read-key-for-the-dashboard-000';
    await writeFile(path, JSON.stringify([{ ...ENTRIES[0], sha256: sha256(rotated) }, ENTRIES[1]]));
    await expect(auth.authenticate(`Bearer ${READ_KEY}`, NO_HEADERS)).resolves.toMatchObject({ id: 'dash' });
    await auth.reload();
    await failureOf(auth.authenticate(`Bearer ${READ_KEY}`, NO_HEADERS));
    await expect(auth.authenticate(`Bearer ${rotated}`, NO_HEADERS)).resolves.toMatchObject({ id: 'dash' });
    await expect(auth.authenticate(`Bearer ${WRITE_KEY}`, NO_HEADERS)).resolves.toMatchObject({ id: 'importer' });
  });

  it('after reload, gives a key already used the scopes and allowlist the file now gives it', async () => {
    const path = await keysFile(ENTRIES);
    const auth = await createApiKeyAuthenticator(path);
    const before = await auth.authenticate(`Bearer ${WRITE_KEY}`, NO_HEADERS);
    expect([...before.scopes]).toEqual(['workflows:read', 'workflows:write']);
    await writeFile(
      path,
      JSON.stringify([ENTRIES[0], { ...ENTRIES[1], scopes: ['workflows:read'], workflows: ['a'] }]),
    );
    await auth.reload();
    const after = await auth.authenticate(`Bearer ${WRITE_KEY}`, NO_HEADERS);
    expect([...after.scopes]).toEqual(['workflows:read']);
    expect(after.workflows).toEqual(['a']);
  });

  it('keeps the keys in force when the file is bad on reload, and reports why', async () => {
    const path = await keysFile(ENTRIES);
    const auth = await createApiKeyAuthenticator(path);
    const newKey = 'wfgql_new-key-in-a-half-written-file-00000000';
    await writeFile(path, `[{"id": "dash", "sha256": "${sha256(newKey)}", "scopes": ["workflows:rea`);
    await expect(auth.reload()).rejects.toThrow(new ConfigError(['API_KEYS_FILE is not valid JSON']));
    await writeFile(path, JSON.stringify([{ id: 'dash', sha256: sha256(newKey), scopes: ['workflows:admin'] }]));
    await expect(auth.reload()).rejects.toBeInstanceOf(ConfigError);
    await rm(path);
    await expect(auth.reload()).rejects.toThrow(/API_KEYS_FILE could not be read \(".*": ENOENT\)/);
    await expect(auth.authenticate(`Bearer ${READ_KEY}`, NO_HEADERS)).resolves.toMatchObject({ id: 'dash' });
    await failureOf(auth.authenticate(`Bearer ${newKey}`, NO_HEADERS));
    expect(auth.size).toBe(2);
  });

  it('refuses to start on a file it cannot use', async () => {
    await expect(createApiKeyAuthenticator(join(dir, 'missing.json'))).rejects.toThrow(/ENOENT/);
    await expect(createApiKeyAuthenticator(await keysFile({ keys: ENTRIES }))).rejects.toThrow(
      /API_KEYS_FILE must hold a JSON array of key entries/,
    );
  });
});

describe('API_KEYS_FILE validation', () => {
  it('names every problem by entry and field, without echoing any value', () => {
    const pastedKey = 'wfgql_a-key-pasted-where-its-hash-belongs-000';
    const problems = problemsOf(
      JSON.stringify([
        { id: 'dash', sha256: pastedKey, scopes: ['workflows:read'] },
        { id: 'has space', sha256: sha256('x'), scopes: [] },
        { id: 'ops', sha256: sha256('y').toUpperCase(), scopes: ['workflows:admin'], workflow: ['order-*'] },
        { id: 'imports', sha256: sha256('z'), scopes: ['workflows:write'], workflows: ['-bad', 'ok-*', 7] },
        { id: 'empty', sha256: sha256('w'), scopes: ['workflows:read'], workflows: [] },
        'dash',
      ]),
    );
    expect(problems).toEqual([
      'API_KEYS_FILE entry 1 ("dash"): "sha256" must be the key\'s SHA-256 as 64 lowercase hex digits (not the key itself)',
      'API_KEYS_FILE entry 2: "id" must be 1 to 64 letters, digits or ._:@- (starting with a letter or digit)',
      'API_KEYS_FILE entry 2: "scopes" must be a non-empty array of "workflows:read", "workflows:write"',
      'API_KEYS_FILE entry 3 ("ops") has an unknown field "workflow" (allowed: id, sha256, scopes, workflows)',
      'API_KEYS_FILE entry 3 ("ops"): "sha256" must be the key\'s SHA-256 as 64 lowercase hex digits (not the key itself)',
      'API_KEYS_FILE entry 3 ("ops"): "scopes" must be a non-empty array of "workflows:read", "workflows:write"',
      'API_KEYS_FILE entry 4 ("imports"): "workflows"[0] must be a workflow name or a glob such as "order-*" (letters, digits, "-", "_", "*"; at most 64)',
      'API_KEYS_FILE entry 4 ("imports"): "workflows"[2] must be a string',
      'API_KEYS_FILE entry 5 ("empty"): "workflows", when present, must be a non-empty array (omit it to allow every workflow)',
      'API_KEYS_FILE entry 6 must be an object { "id", "sha256", "scopes", "workflows"? }',
    ]);
    expect(problems.join('\n')).not.toContain(pastedKey);
  });

  it('refuses two entries with the same id or the same key', () => {
    const entry = ENTRIES[0]!;
    expect(problemsOf(JSON.stringify([entry, { ...entry, sha256: sha256('other') }]))).toEqual([
      'API_KEYS_FILE entry 2: another entry has the same id',
    ]);
    expect(problemsOf(JSON.stringify([entry, { ...entry, id: 'copy' }]))).toEqual([
      'API_KEYS_FILE entry 2: another entry has the same sha256',
    ]);
  });

  it('does not quote the text around a JSON syntax error, which may be a key', () => {
    const key = 'wfgql_secret-in-broken-json';
    expect(problemsOf(`[{"id": "dash", "key": ${key}}]`)).toEqual(['API_KEYS_FILE is not valid JSON']);
  });
});

describe('npm run api-key', () => {
  const apiKey = (...args: string[]) =>
    run('npm', ['run', '--silent', 'api-key', '--', ...args], { cwd: ROOT, env: { ...process.env } });

  it('prints a new key once and the entry whose sha256 is that key, which the authenticator accepts', async () => {
    const { stdout } = await apiKey(
      '--id',
      'dash',
      '--scopes',
      'workflows:read,workflows:write',
      '--workflows',
      'order-*',
    );
    const keys = stdout.match(/^wfgql_[A-Za-z0-9_-]{43}$/gm) ?? [];
    expect(keys).toHaveLength(1);
    const key = keys[0]!;
    const entries = stdout.split('\n').filter((line) => line.startsWith('{'));
    expect(entries).toHaveLength(1);
    const entry = JSON.parse(entries[0]!) as ApiKeyEntry;
    expect(entry).toEqual({
      id: 'dash',
      sha256: sha256(key),
      scopes: ['workflows:read', 'workflows:write'],
      workflows: ['order-*'],
    });
    const auth = await createApiKeyAuthenticator(await keysFile([entry]));
    await expect(auth.authenticate(`Bearer ${key}`, NO_HEADERS)).resolves.toMatchObject({ id: 'dash' });
  });

  it.each([
    [['--scopes', 'workflows:read'], /--id is required/],
    [['--id', 'dash'], /--scopes is required/],
    [['--id', 'dash', '--scopes', 'workflows:admin'], /unknown scope "workflows:admin"/],
    [['--id', 'has space', '--scopes', 'workflows:read'], /"id" must be 1 to 64 letters/],
    [['--id', 'dash', '--scopes', 'workflows:read', '--workflows', 'order-?'], /"workflows"\[0\] must be a workflow/],
    [['--id', 'dash', '--scopes', 'workflows:read', '--colour', 'red'], /Unknown option '--colour'/],
  ])('refuses %j with usage and exit status 2', async (args, message) => {
    const error = await apiKey(...args).then(
      () => expect.unreachable('expected a failure'),
      (e: unknown) => e as { code: number; stdout: string; stderr: string },
    );
    expect(error.code).toBe(2);
    expect(error.stdout).toBe('');
    expect(error.stderr).toMatch(message);
    expect(error.stderr).toContain('Usage: npm run api-key');
  });

  it('generates keys that differ, from 32 random bytes', () => {
    const fixed = createApiKey({ id: 'a', scopes: ['workflows:read'] }, (size) => Buffer.alloc(size, 1));
    expect(fixed.key).toBe(`wfgql_${Buffer.alloc(32, 1).toString('base64url')}`);
    expect(createApiKey({ id: 'a', scopes: ['workflows:read'] }).key).not.toBe(
      createApiKey({ id: 'a', scopes: ['workflows:read'] }).key,
    );
  });
});
