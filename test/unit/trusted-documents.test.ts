import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { loadTrustedDocuments } from '../../src/trusted-documents/manifest.js';

// The manifest is checked at start-up: a server that started runs exactly the documents its hashes name.
const directory = mkdtempSync(join(tmpdir(), 'trusted-manifest-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

let files = 0;
function manifestFile(content: string): string {
  const path = join(directory, `manifest-${++files}.json`);
  writeFileSync(path, content);
  return path;
}

const DOCUMENT = 'query Names { workflows(first: 5) { nodes { name } } }';
const digest = (algorithm: string, text: string) => createHash(algorithm).update(text).digest('hex');

/** The problems `loadTrustedDocuments` throws for a manifest with this content. */
function problemsOf(content: string): string[] {
  try {
    loadTrustedDocuments(manifestFile(content));
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

describe('loadTrustedDocuments', () => {
  it('keeps each document under its hash, found by the bare digest and by sha256:<digest>', () => {
    const sha256 = digest('sha256', DOCUMENT);
    const documents = loadTrustedDocuments(manifestFile(JSON.stringify({ [sha256]: DOCUMENT })));
    expect(documents.size).toBe(1);
    expect(documents.get(sha256)).toBe(DOCUMENT);
    expect(documents.get(`sha256:${sha256}`)).toBe(DOCUMENT);
    expect(documents.get(sha256.toUpperCase())).toBe(DOCUMENT);
    expect(documents.get(digest('sha256', `${DOCUMENT} `))).toBeUndefined();
  });

  it('checks the client preset’s default sha1 hashes and prefixed keys too, and takes other keys as they are', () => {
    const sha1 = digest('sha1', DOCUMENT);
    const prefixed = `sha256:${digest('sha256', DOCUMENT)}`;
    const documents = loadTrustedDocuments(
      manifestFile(JSON.stringify({ [sha1]: DOCUMENT, [prefixed]: DOCUMENT, 'names-v1': DOCUMENT })),
    );
    expect([documents.get(sha1), documents.get(prefixed), documents.get('names-v1')]).toEqual([
      DOCUMENT,
      DOCUMENT,
      DOCUMENT,
    ]);
  });

  it('refuses a hash that is not its document’s, naming the file and the key', () => {
    const wrong = digest('sha256', 'query Other { workflows { totalCount } }');
    const [problem] = problemsOf(JSON.stringify({ [wrong]: DOCUMENT }));
    expect(problem).toContain('TRUSTED_DOCUMENTS ("');
    expect(problem).toContain(`"${wrong}" is not the sha256 hash of its document`);
    expect(problemsOf(JSON.stringify({ [digest('sha1', 'x')]: DOCUMENT }))[0]).toContain('is not the sha1 hash');
    expect(problemsOf(JSON.stringify({ 'sha256:abc': DOCUMENT }))[0]).toContain('is not a sha256 hash');
  });

  it('refuses an unreadable file, JSON that is not an object of documents, and values that are not documents', () => {
    expect(() => loadTrustedDocuments(join(directory, 'missing.json'))).toThrow(/could not be read: ENOENT/);
    expect(problemsOf('{ "a": ')[0]).toMatch(/is not valid JSON/);
    expect(problemsOf('["query { a }"]')[0]).toMatch(/must hold a JSON object/);
    expect(problemsOf('{}')[0]).toMatch(/holds no documents/);
    expect(problemsOf(JSON.stringify({ k: 1 }))[0]).toMatch(/the value of "k" must be a GraphQL document/);
    expect(problemsOf(JSON.stringify({ k: 'query {' }))[0]).toMatch(/"k" is not a parseable GraphQL document/);
    expect(problemsOf(JSON.stringify({ k: 'type Query { a: Int }' }))[0]).toMatch(/"k" holds no operation/);
    expect(problemsOf(JSON.stringify({ k: `${DOCUMENT} type Query { a: Int }` }))[0]).toMatch(/type system/);
  });

  it('lists at most ten problems of a manifest full of them', () => {
    const entries = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`k${i}`, 'query {']));
    const problems = problemsOf(JSON.stringify(entries));
    expect(problems).toHaveLength(11);
    expect(problems.at(-1)).toContain('15 more problems');
  });
});

describe('the trusted-documents variables', () => {
  const problemsOfEnv = (env: Record<string, string>): string[] => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return [...error.problems];
      throw error;
    }
  };
  const manifest = manifestFile(JSON.stringify({ [digest('sha256', DOCUMENT)]: DOCUMENT }));
  const remote = { CLOUDFLARE_API_TOKEN: 'token', CLOUDFLARE_ACCOUNT_ID: '0123456789abcdef0123456789abcdef' };

  it('default to off, and take a mode with a manifest', () => {
    expect(loadConfig({}).trustedDocuments).toEqual({ mode: 'off', manifest: undefined, allowGraphiQL: false });
    expect(loadConfig({ TRUSTED_DOCUMENTS: manifest, TRUSTED_DOCUMENTS_MODE: 'only' }).trustedDocuments).toEqual({
      mode: 'only',
      manifest,
      allowGraphiQL: false,
    });
  });

  it('refuse a mode without a manifest, a manifest without a mode, an unknown mode and an unreadable path', () => {
    expect(problemsOfEnv({ TRUSTED_DOCUMENTS_MODE: 'only' })).toEqual([
      expect.stringContaining('TRUSTED_DOCUMENTS_MODE=only needs TRUSTED_DOCUMENTS'),
    ]);
    expect(problemsOfEnv({ TRUSTED_DOCUMENTS: manifest })).toEqual([
      expect.stringContaining('TRUSTED_DOCUMENTS is set but TRUSTED_DOCUMENTS_MODE is off'),
    ]);
    expect(problemsOfEnv({ TRUSTED_DOCUMENTS: manifest, TRUSTED_DOCUMENTS_MODE: 'strict' })).toContainEqual(
      expect.stringContaining('TRUSTED_DOCUMENTS_MODE must be one of off, prefer, only'),
    );
    expect(
      problemsOfEnv({ TRUSTED_DOCUMENTS: join(directory, 'missing.json'), TRUSTED_DOCUMENTS_MODE: 'prefer' }),
    ).toEqual([expect.stringMatching(/^TRUSTED_DOCUMENTS must be a readable file .*ENOENT/)]);
  });

  it('refuse ALLOW_GRAPHIQL_DOCUMENTS outside local mode', () => {
    const only = { TRUSTED_DOCUMENTS: manifest, TRUSTED_DOCUMENTS_MODE: 'only', ALLOW_GRAPHIQL_DOCUMENTS: 'true' };
    expect(loadConfig(only).trustedDocuments.allowGraphiQL).toBe(true);
    expect(problemsOfEnv({ ...only, ...remote })).toEqual([
      expect.stringContaining('ALLOW_GRAPHIQL_DOCUMENTS=true is only allowed in local mode'),
    ]);
    expect(problemsOfEnv({ ALLOW_GRAPHIQL_DOCUMENTS: 'yes' })).toEqual([
      expect.stringContaining('ALLOW_GRAPHIQL_DOCUMENTS must be one of true, false'),
    ]);
  });
});
