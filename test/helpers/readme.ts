import { readFile } from 'node:fs/promises';
import { README_PATH } from '../../scripts/error-codes.js';

/** The text of README.md. */
export async function readme(): Promise<string> {
  return readFile(README_PATH, 'utf8');
}

/** The contents of the README's fenced code blocks of one language (```graphql, ```gql), in order. */
export async function readmeBlocks(language: string): Promise<string[]> {
  const text = await readme();
  return [...text.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
}
