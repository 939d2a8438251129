// `npx tsx scripts/error-codes.ts`: writes the README's table of every `extensions.code` (section "Use it from a
// frontend") from the error vocabulary, src/errors/codes.ts, which stays the one place a code is described.
// test/unit/readme.test.ts fails when the README's table differs from what this renders.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ERROR_CODES } from '../src/errors/codes.js';

export const README_PATH = fileURLToPath(new URL('../README.md', import.meta.url));

/** The comments the table sits between in README.md; everything between them is replaced. */
export const TABLE_START =
  '<!-- error-codes: generated from src/errors/codes.ts by `npx tsx scripts/error-codes.ts` -->';
export const TABLE_END = '<!-- /error-codes -->';

/** The markdown table of every code, in the vocabulary's order. */
export function errorCodeTable(codes: Readonly<Record<string, string>> = ERROR_CODES): string {
  const rows = Object.entries(codes).map(([code, description]) => `| \`${code}\` | ${cell(description)} |`);
  return ['| `extensions.code` | when it is sent, and what to do |', '| --- | --- |', ...rows].join('\n');
}

/** A description as one table cell: a `|` would end the cell. */
const cell = (text: string): string => text.replaceAll('|', '\\|');

/**
 * `readme` with the text between {@link TABLE_START} and {@link TABLE_END} replaced by {@link errorCodeTable}.
 * @throws when the markers are missing or out of order.
 */
export function withErrorCodeTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) {
    throw new Error(`README.md lacks the markers ${TABLE_START} … ${TABLE_END} around the error code table.`);
  }
  // Blank lines around the table, so that markdown renderers do not take it for part of the comments.
  return `${readme.slice(0, start + TABLE_START.length)}\n\n${errorCodeTable()}\n\n${readme.slice(end)}`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const readme = readFileSync(README_PATH, 'utf8');
  const updated = withErrorCodeTable(readme);
  if (updated === readme) {
    process.stdout.write('README.md: the error code table is up to date.\n');
  } else {
    writeFileSync(README_PATH, updated);
    process.stdout.write(`README.md: wrote the table of ${Object.keys(ERROR_CODES).length} error codes.\n`);
  }
}
