import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Kind, parse } from 'graphql';
import { ConfigError } from '../config.js';

/** The trusted documents of a manifest, by hash. */
export interface TrustedDocuments {
  /** The document a hash names (any of the spellings {@link documentKey} accepts), or undefined. */
  get(hash: string): string | undefined;
  readonly size: number;
}

/**
 * The hash algorithms a manifest's keys are checked with, by the length of their hex digest. GraphQL Code
 * Generator's client preset (`persistedDocuments.hashAlgorithm`) hashes each printed document with `sha1` by
 * default or `sha256`, and writes the bare hex digest; other tools write `sha256:<hex>` (the GraphQL over HTTP
 * draft's `documentId`). A key of any other shape comes from a custom hash function and is taken as it is.
 */
const ALGORITHMS = { sha1: 40, sha256: 64, sha512: 128 } as const;
type Algorithm = keyof typeof ALGORITHMS;

const HASH = /^(?:(sha1|sha256|sha512):)?([0-9a-f]+)$/i;

/** A hash key as algorithm and hex digest, when its shape tells the algorithm. */
function knownHash(key: string): { algorithm: Algorithm; hex: string } | undefined {
  const match = HASH.exec(key);
  if (!match) return undefined;
  const hex = (match[2] ?? '').toLowerCase();
  const named = match[1]?.toLowerCase() as Algorithm | undefined;
  const algorithm = named ?? (Object.keys(ALGORITHMS) as Algorithm[]).find((a) => ALGORITHMS[a] === hex.length);
  return algorithm !== undefined && ALGORITHMS[algorithm] === hex.length ? { algorithm, hex } : undefined;
}

/**
 * The one spelling of a hash under which a document is kept and looked up: `sha256:<lower-case hex>` for a hash
 * whose algorithm is known, so that a client may send the client preset's bare digest (APQ's `sha256Hash`) or the
 * prefixed `documentId` for the same document; any other key as it is.
 */
export function documentKey(hash: string): string {
  const known = knownHash(hash);
  return known ? `${known.algorithm}:${known.hex}` : hash;
}

/** At most this many problems are listed; a manifest from the wrong tool would otherwise print thousands. */
const MAX_LISTED_PROBLEMS = 10;

/**
 * Reads and checks a manifest (`{ "<hash>": "<document>", ... }`, the `persisted-documents.json` the client
 * preset writes): each value must be a GraphQL document of operations and fragments only, and each key whose
 * algorithm is known must be that document's hash, so a manifest edited by hand, or documents and hashes mixed up,
 * fail at start-up instead of running a document under a hash that does not name it.
 *
 * @throws {@link ConfigError} naming the file and every problem (keys are hashes, not secrets, and are quoted).
 */
export function loadTrustedDocuments(path: string): TrustedDocuments {
  const source = `TRUSTED_DOCUMENTS ("${path}")`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${source} could not be read: ${(error as NodeJS.ErrnoException).code ?? 'unknown error'}`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`${source} is not valid JSON: ${(error as Error).message}`]);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError([`${source} must hold a JSON object mapping each document's hash to the document`]);
  }
  const problems: string[] = [];
  const documents = new Map<string, string>();
  for (const [hash, document] of Object.entries(parsed as Record<string, unknown>)) {
    const problem = checkEntry(hash, document);
    if (problem !== undefined) {
      problems.push(`${source}: ${problem}`);
      continue;
    }
    const key = documentKey(hash);
    if (documents.has(key) && documents.get(key) !== document) {
      problems.push(`${source}: "${hash}" names the same hash as another key, with another document`);
    }
    documents.set(key, document as string);
  }
  if (documents.size === 0 && problems.length === 0) problems.push(`${source} holds no documents`);
  if (problems.length > MAX_LISTED_PROBLEMS) {
    const more = problems.length - MAX_LISTED_PROBLEMS;
    problems.splice(MAX_LISTED_PROBLEMS, more, `${source}: ${more} more problems`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    get: (hash) => documents.get(documentKey(hash)),
    size: documents.size,
  };
}

/** What is wrong with one entry of a manifest, or undefined. */
function checkEntry(hash: string, document: unknown): string | undefined {
  if (typeof document !== 'string') return `the value of "${hash}" must be a GraphQL document as a string`;
  if (hash === '' || /\s/.test(hash)) return `"${hash}" is not a hash: keys are non-empty, without whitespace`;
  try {
    const definitions = parse(document).definitions;
    if (!definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION)) return `"${hash}" holds no operation`;
    if (definitions.some((d) => d.kind !== Kind.OPERATION_DEFINITION && d.kind !== Kind.FRAGMENT_DEFINITION)) {
      return `"${hash}" holds type system definitions; a trusted document holds operations and fragments`;
    }
  } catch (error) {
    return `"${hash}" is not a parseable GraphQL document: ${(error as Error).message}`;
  }
  const prefixed = /^(sha1|sha256|sha512):/i.exec(hash)?.[1];
  const known = knownHash(hash);
  if (prefixed !== undefined && known === undefined) {
    return `"${hash}" is not a ${prefixed} hash: ${ALGORITHMS[prefixed.toLowerCase() as Algorithm]} hex digits expected`;
  }
  if (known && createHash(known.algorithm).update(document).digest('hex') !== known.hex) {
    return `"${hash}" is not the ${known.algorithm} hash of its document (was the manifest edited, or written by another tool?)`;
  }
  return undefined;
}
