import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, parse, type DocumentNode, type ParseOptions, type Source } from 'graphql';
import { _createLRUCache, type Plugin } from 'graphql-yoga';
import type { DocumentLimits } from '../config.js';
import { codedError } from '../errors/coded-error.js';

/** The variable behind each limit, as `extensions.limitName` names it. */
type LimitName = 'MAX_DOCUMENT_BYTES' | 'MAX_TOKENS' | 'MAX_ALIASES' | 'MAX_DEPTH' | 'MAX_DIRECTIVES';

/**
 * The `http` extension yoga sets on its own parse and validation errors: 400, or 200 for clients that accept only
 * `application/json` (the GraphQL over HTTP spec's `spec` flag).
 */
const DOCUMENT_ERROR_HTTP = { status: 400, spec: true };

/** A `DOCUMENT_LIMIT` error, answered like yoga's own document errors. */
function documentLimit(message: string, limitName: LimitName, limit: number): GraphQLError {
  return codedError(`${message} (${limitName}).`, 'DOCUMENT_LIMIT', { limitName, limit, http: DOCUMENT_ERROR_HTTP });
}

/** Whether a string's UTF-8 encoding is longer than `max` bytes, without encoding it when its length decides. */
function longerThan(text: string, max: number): boolean {
  // A UTF-16 code unit takes 1 to 3 bytes in UTF-8 (a surrogate pair, 2 units, takes 4).
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return Buffer.byteLength(text, 'utf8') > max;
}

/**
 * graphql's parse with `maxLexicalTokens`. Its refusal is a syntax error like any other, told apart by its
 * message; a recursion that still exhausts the stack (values nested to the token limit) is a coded refusal too,
 * not an unexpected error.
 */
function parseWithin(maxTokens: number): (source: string | Source, options?: ParseOptions) => DocumentNode {
  const tokenMessage = `more that ${maxTokens} tokens`;
  return (source, options) => {
    try {
      return parse(source, { ...options, maxLexicalTokens: maxTokens });
    } catch (error) {
      if (error instanceof GraphQLError && error.message.includes(tokenMessage)) {
        throw documentLimit(`The document has more than ${maxTokens} tokens`, 'MAX_TOKENS', maxTokens);
      }
      if (error instanceof RangeError) {
        throw codedError('The document is nested too deeply to parse.', 'GRAPHQL_PARSE_FAILED', {
          http: DOCUMENT_ERROR_HTTP,
        });
      }
      throw error;
    }
  };
}

/**
 * Refuses documents beyond {@link DocumentLimits} with `DOCUMENT_LIMIT`, before their cost is spent: the size
 * before parsing; the tokens while parsing (graphql's `maxLexicalTokens`, which stops at the first token over);
 * aliases, depth and directives by graphql-armor's validation rules, which count an operation as validation
 * enters it and stop validation there. Runs wherever yoga's envelop runs (HTTP GET and POST, SSE, and
 * graphql-ws through `yoga.getEnveloped`).
 *
 * Aliases of `__typename` count too (graphql-armor exempts them by default): a million of them are still a
 * million fields to validate, execute and serialise.
 */
export function useDocumentLimits(limits: DocumentLimits): Plugin {
  const { maxBytes, maxTokens, maxAliases, maxDepth, maxDirectives } = limits;
  const limitedParse = parseWithin(maxTokens);
  /** graphql-armor calls `onReject` before it throws its own uncoded error; throwing here replaces that error. */
  const refuse = (message: string, limitName: LimitName, limit: number) => [
    () => {
      throw documentLimit(message, limitName, limit);
    },
  ];
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(
        maxAliasesPlugin({
          n: maxAliases,
          allowList: [],
          onReject: refuse(`An operation has more than ${maxAliases} aliases`, 'MAX_ALIASES', maxAliases),
        }),
      );
      addPlugin(
        maxDepthPlugin({
          n: maxDepth,
          // Introspection counts too (graphql-armor skips it by default): a deep `__schema` selection is as costly
          // as any other, and getIntrospectionQuery()'s deepest path (with every option) is 15 fields deep, under the default of 20.
          ignoreIntrospection: false,
          flattenFragments: true,
          onReject: refuse(`An operation nests selections more than ${maxDepth} levels deep`, 'MAX_DEPTH', maxDepth),
        }),
      );
      addPlugin(
        maxDirectivesPlugin({
          n: maxDirectives,
          onReject: refuse(`An operation has more than ${maxDirectives} directives`, 'MAX_DIRECTIVES', maxDirectives),
        }),
      );
    },
    onParse({ params, setParseFn }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      if (longerThan(source, maxBytes)) {
        throw documentLimit(`The document is larger than ${maxBytes} bytes`, 'MAX_DOCUMENT_BYTES', maxBytes);
      }
      setParseFn(limitedParse);
    },
  };
}

/** Documents longer than this (UTF-16 code units) are parsed and validated every time, never cached. */
export const MAX_CACHED_DOCUMENT_LENGTH = 4096;

/** What yoga's `parserAndValidationCache` option takes as a cache. */
interface DocumentCache<T> {
  get(key: string): T | undefined;
  set(key: string, value: T): void;
}

/**
 * yoga's own LRU cache (1024 entries, an hour each) for parsed documents or parse errors, keyed by the document's
 * text, that never keeps a document longer than {@link MAX_CACHED_DOCUMENT_LENGTH}. A cached entry holds its text
 * and its syntax tree (every token included, several times the text's size), so without a bound on each entry
 * 1024 distinct large documents would stay in memory for an hour. 4 KiB is twice the full introspection query;
 * a longer document costs its parse (well under a millisecond per KiB) on each request instead.
 */
export function createDocumentCache<T extends object>(onLookup?: (hit: boolean) => void): DocumentCache<T> {
  const cache = _createLRUCache<T>();
  return {
    get: (key) => {
      const found = key.length > MAX_CACHED_DOCUMENT_LENGTH ? undefined : cache.get(key);
      onLookup?.(found !== undefined);
      return found;
    },
    set: (key, value) => {
      if (key.length <= MAX_CACHED_DOCUMENT_LENGTH) cache.set(key, value);
    },
  };
}
