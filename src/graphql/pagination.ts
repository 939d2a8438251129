import { createHash } from 'node:crypto';
import { MAX_PAGE_SIZE } from '../upstream/limits.js';
import type { Page } from '../upstream/types.js';
import { badUserInput } from '../errors/coded-error.js';

/** Page size of a connection without `first`/`last`. */
export const DEFAULT_PAGE_SIZE = 20;

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
 * Reads the `perPage` items that follow an upstream cursor (a `result_info.cursor` of an earlier page),
 * in the same order as {@link PageReader}'s pages.
 */
export type CursorPageReader<T> = (cursor: string, perPage: number) => Promise<Page<T>>;

/**
 * A fingerprint of the connection and its filters, carried in every cursor: a cursor only means something
 * for the list it came from, and a cursor from another list (or other filters) is refused, not misread.
 */
export function connectionFingerprint(...parts: (string | null | undefined)[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

/** Where a cursor points: an offset in the list and, for a page's last edge, the upstream cursor after it. */
interface Position {
  readonly offset: number;
  readonly upstream?: string;
}

// Upstream cursors are opaque; only ones that survive a round trip through ours unchanged are carried.
const UPSTREAM_CURSOR = /^[\x21-\x7e]{1,1024}$/;
const CURSOR = /^(?:v1:([\w-]+):(\d{1,9})|v2:([\w-]+):(\d{1,9}):([\x21-\x7e]{1,1024}))$/;

function encodeCursor(fingerprint: string, offset: number, upstream?: string | null): string {
  const text =
    upstream && UPSTREAM_CURSOR.test(upstream)
      ? `v2:${fingerprint}:${offset}:${upstream}`
      : `v1:${fingerprint}:${offset}`;
  return Buffer.from(text).toString('base64url');
}

function decodeCursor(name: 'after' | 'before', cursor: string, fingerprint: string): Position {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match)
    throw badUserInput(`\`${name}\` is not a cursor of this connection: ${JSON.stringify(cursor.slice(0, 100))}`);
  const [, v1Fingerprint, v1Offset, v2Fingerprint, v2Offset, upstream] = match;
  if ((v1Fingerprint ?? v2Fingerprint) !== fingerprint) {
    throw badUserInput(`\`${name}\` is a cursor of another list or of other filters; start again without it`);
  }
  const offset = Number(v1Offset ?? v2Offset);
  return upstream === undefined ? { offset } : { offset, upstream };
}

function checkSize(name: 'first' | 'last', value: number | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (value < 0 || value > MAX_PAGE_SIZE) {
    throw badUserInput(`\`${name}\` must be between 0 and ${MAX_PAGE_SIZE} (got ${value})`, { argument: name });
  }
  return value;
}

/**
 * The page sizes a connection's arguments ask for, checked: each of `first` and `last` at most
 * {@link MAX_PAGE_SIZE}, and not both. The cost estimate applies the same rule (`cost/estimate.ts`).
 *
 * @throws a `BAD_USER_INPUT` GraphQL error naming the argument.
 */
export function checkPageArgs(args: Pick<ConnectionArgs, 'first' | 'last'>): { first?: number; last?: number } {
  const first = checkSize('first', args.first);
  const last = checkSize('last', args.last);
  if (first !== undefined && last !== undefined) {
    throw badUserInput('Pass either `first` or `last`, not both');
  }
  return { ...(first === undefined ? {} : { first }), ...(last === undefined ? {} : { last }) };
}

interface Range<T> {
  readonly items: readonly T[];
  readonly total: number;
  /** The upstream cursor that follows the range's last item, when the range ends where an upstream page ends. */
  readonly next: string | null;
}

/** The upstream cursor after `page`'s last item, if a window of `page` that reaches `end` includes that item. */
function nextAt<T>(page: Page<T>, end: number): string | null {
  return page.items.length > 0 && end >= page.items.length ? page.info.cursor || null : null;
}

/**
 * Items `[start, end)` of an upstream list in as few page requests as possible: one page when some page
 * size between the window's length and 100 holds the whole window, else two pages of the window's length.
 */
async function readRange<T>(read: PageReader<T>, start: number, end: number): Promise<Range<T>> {
  // An empty window still costs one small request: the total count is part of every connection.
  const want = Math.max(end - start, 1);
  for (let size = want; size <= MAX_PAGE_SIZE; size++) {
    const index = Math.floor(start / size);
    if (index === Math.floor((start + want - 1) / size)) {
      const page = await read(index + 1, size);
      const from = start - index * size;
      const items = page.items.slice(from, from + (end - start));
      return { items, total: page.info.totalCount, next: items.length > 0 ? nextAt(page, from + (end - start)) : null };
    }
  }
  const first = Math.floor(start / want);
  const [a, b] = await Promise.all([read(first + 1, want), read(first + 2, want)]);
  const from = start - first * want;
  const items = [...a.items, ...b.items].slice(from, from + (end - start));
  return {
    items,
    total: Math.max(a.info.totalCount, b.info.totalCount),
    next: items.length > 0 && b.items.length > 0 ? nextAt(b, from + (end - start) - a.items.length) : null,
  };
}

/** Builds the connection of `items` found at offset `start`; the last edge's cursor carries `next`. */
function connectionOf<T>(
  fingerprint: string,
  start: number,
  range: Range<T>,
  flags: { hasNextPage: boolean; hasPreviousPage: boolean },
): OffsetConnection<T> {
  const lastIndex = range.items.length - 1;
  const edges = range.items.map((node, i) => ({
    cursor: encodeCursor(fingerprint, start + i, i === lastIndex ? range.next : null),
    node,
  }));
  return {
    edges,
    totalCount: range.total,
    pageInfo: {
      ...flags,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

/**
 * Resolves a Relay connection over an upstream list that pages by number. Cursors are opaque offsets
 * (plus the list's fingerprint), so `hasNextPage`/`hasPreviousPage` are exact from `total_count`, and
 * backward pagination works across upstream page boundaries. `last` without `before` needs the total
 * first, so it costs one extra request unless the whole list fits in `last`.
 *
 * With `readAfter` (a list that also pages by upstream cursor), a page's `endCursor` also carries the
 * upstream cursor that follows it, when the page ends where an upstream page ended. Paging forward from
 * such an `endCursor` (`first`/`after`, no `last`/`before`) then follows the upstream cursor instead of
 * the offset: items added at the head of the list meanwhile shift offsets, and would repeat items, but
 * do not move a cursor. That page's offsets (in its cursors) are then only as exact as the earlier ones.
 */
export async function resolveOffsetConnection<T>(
  args: ConnectionArgs,
  options: { fingerprint: string; defaultSize: number; read: PageReader<T>; readAfter?: CursorPageReader<T> },
): Promise<OffsetConnection<T>> {
  const { first, last } = checkPageArgs(args);
  const { fingerprint, read, readAfter } = options;
  const after = args.after ? decodeCursor('after', args.after, fingerprint) : undefined;
  const hi = args.before ? decodeCursor('before', args.before, fingerprint).offset : undefined;
  const lo = after ? after.offset + 1 : 0;
  const size = first ?? options.defaultSize;

  // `first: 0` has no upstream page to ask for (per_page is at least 1); the offset path answers it.
  if (readAfter && after?.upstream !== undefined && last === undefined && hi === undefined && size > 0) {
    const page = await readAfter(after.upstream, size);
    const items = page.items.slice(0, size);
    const next = items.length === page.items.length ? nextAt(page, items.length) : null;
    return connectionOf(
      fingerprint,
      lo,
      { items, total: page.info.totalCount, next },
      {
        hasNextPage: items.length > 0 && (page.info.cursor || null) !== null,
        hasPreviousPage: true,
      },
    );
  }

  let start: number;
  let range: Range<T>;
  if (last === undefined) {
    start = lo;
    const end = Math.max(lo, Math.min(hi ?? Number.POSITIVE_INFINITY, lo + size));
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
        ? { items: last === 0 ? [] : head.items.slice(start), total, next: null }
        : await readRange(read, start, total);
  }
  if (!readAfter) range = { ...range, next: null };

  return connectionOf(fingerprint, start, range, {
    hasNextPage: start + range.items.length < range.total,
    hasPreviousPage: start > 0 && range.total > 0,
  });
}
