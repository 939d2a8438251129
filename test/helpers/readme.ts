import { readFile } from 'node:fs/promises';

/** The contents of the README's fenced code blocks of one language (```graphql, ```gql), in order. */
export async function readmeBlocks(language: string): Promise<string[]> {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  return [...readme.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
}
