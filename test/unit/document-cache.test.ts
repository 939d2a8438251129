import { parse, type DocumentNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { MAX_CACHED_DOCUMENT_LENGTH, createDocumentCache } from '../../src/transport/document-limits.js';

describe('the parsed-document cache (createDocumentCache)', () => {
  it('keeps a document up to MAX_CACHED_DOCUMENT_LENGTH and never a longer one', () => {
    const cache = createDocumentCache<DocumentNode>();
    const short = `{ __typename ${' '.repeat(MAX_CACHED_DOCUMENT_LENGTH - 14)}}`;
    const long = `${short} `;
    expect(short.length).toBe(MAX_CACHED_DOCUMENT_LENGTH);
    cache.set(short, parse(short));
    cache.set(long, parse(long));
    expect(cache.get(short)?.kind).toBe('Document');
    expect(cache.get(long)).toBeUndefined();
  });
});
