import { createHash } from 'node:crypto';
import type { Page } from '../upstream/types.js';
import { badUserInput } from './upstream-errors.js';

/** Largest `first`/`last` a connection accepts: the upstream's own page limit. */
export const MAX_PAGE_SIZE = 100;

export interface ConnectionArgs {
  readonly first?: number | null;
  readonly after?: string | null;
  readonly last?: number | null;
  readonly before?: string | null;
}

export interface OffsetConnection<T> {
  readonly edges: { readonly cursor: string; readonly node: T }[];
  readonly pageInfo: {
    readonly hasNextPage: boolean;
    readonly hasPreviousPage: boolean;
    readonly startCursor: string | null;
    readonly endCursor: string | null;
  };
  readonly totalCount: number;
}

/** Reads one upstream page (1-based `page`, `perPage` at most 100). */
export type PageReader<T> = (page: number, perPage: number) => Promise<Page<T>>;

/**
 * A fingerprint of the connection and its filters, carried in every cursor: a cursor only means something
 * for the list it came from, and a cursor from another list (or other filters) is refused, not misread.
 */
export function connectionFingerprint(...parts: (string | null | undefined)[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

function encodeCursor(fingerprint: string, offset: number): string {
  return Buffer.from(`v1:${fingerprint}:${offset}`).toString('base64url');
}

function decodeCursor(name: 'after' | 'before', cursor: string, fingerprint: string): number {
  const match = /^v1:([\w-]+):(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw badUserInput(`\`${name}\` is not a cursor of this connection: ${JSON.stringify(cursor.slice(0, 100))}`);
  if (match[1] !== fingerprint) {
    throw badUserInput(`\`${name}\` is a cursor of another list or of other filters; start again without it`);
  }
  return Number(match[2]);
}

function checkSize(name: 'first' | 'last', value: number | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (value < 0 || value > MAX_PAGE_SIZE) {
    throw badUserInput(`\`${name}\` must be between 0 and ${MAX_PAGE_SIZE} (got ${value})`, { argument: name });
  }
  return value;
}

/**
 * Items `[start, end)` of an upstream list in as few page requests as possible: one page when some page
 * size between the window's length and 100 holds the whole window, else two pages of the window's length.
 */
async function readRange<T>(read: PageReader<T>, start: number, end: number): Promise<{ items: readonly T[]; total: number }> {
  // An empty window still costs one small request: the total count is part of every connection.
  const want = Math.max(end - start, 1);
  for (let size = want; size <= MAX_PAGE_SIZE; size++) {
    const index = Math.floor(start / size);
    if (index === Math.floor((start + want - 1) / size)) {
      const page = await read(index + 1, size);
      const from = start - index * size;
      return { items: page.items.slice(from, from + (end - start)), total: page.info.totalCount };
    }
  }
  const first = Math.floor(start / want);
  const [a, b] = await Promise.all([read(first + 1, want), read(first + 2, want)]);
  const from = start - first * want;
  return { items: [...a.items, ...b.items].slice(from, from + (end - start)), total: Math.max(a.info.totalCount, b.info.totalCount) };
}

/**
 * Resolves a Relay connection over an upstream list that pages by number. Cursors are opaque offsets
 * (plus the list's fingerprint), so `hasNextPage`/`hasPreviousPage` are exact from `total_count`, and
 * backward pagination works across upstream page boundaries. `last` without `before` needs the total
 * first, so it costs one extra request unless the whole list fits in `last`.
 */
export async function resolveOffsetConnection<T>(
  args: ConnectionArgs,
  options: { fingerprint: string; defaultSize: number; read: PageReader<T> },
): Promise<OffsetConnection<T>> {
  const first = checkSize('first', args.first);
  const last = checkSize('last', args.last);
  if (first !== undefined && last !== undefined) {
    throw badUserInput('Pass either `first` or `last`, not both');
  }
  const { fingerprint, read } = options;
  const lo = args.after ? decodeCursor('after', args.after, fingerprint) + 1 : 0;
  const hi = args.before ? decodeCursor('before', args.before, fingerprint) : undefined;

  let start: number;
  let range: { items: readonly T[]; total: number };
  if (last === undefined) {
    start = lo;
    const end = Math.max(lo, Math.min(hi ?? Number.POSITIVE_INFINITY, lo + (first ?? options.defaultSize)));
    range = await readRange(read, start, end);
  } else if (hi !== undefined) {
    start = Math.max(lo, hi - last);
    range = await readRange(read, start, Math.max(start, hi));
  } else {
    const head = await read(1, Math.max(last, 1));
    const total = head.info.totalCount;
    start = Math.max(lo, total - last);
    range =
      total <= last
        ? { items: last === 0 ? [] : head.items.slice(start), total }
        : await readRange(read, start, total);
  }

  const edges = range.items.map((node, i) => ({ cursor: encodeCursor(fingerprint, start + i), node }));
  return {
    edges,
    totalCount: range.total,
    pageInfo: {
      hasNextPage: start + edges.length < range.total,
      hasPreviousPage: start > 0 && range.total > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
