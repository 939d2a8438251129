import { readFileSync } from 'node:fs';
// Not ./process.js's ROOT: that module registers vitest hooks, and the benchmark (test/bench/stack.ts) runs outside vitest.
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

/** `exec node <flags> dist/main.js`: the shape of package.json's `start:prod`. */
const START_PROD = /^exec node((?: --[\w-]+(?:=\S+)?)*) (dist\/main\.js)$/;

/**
 * node's arguments in the production command, read from package.json's `start:prod` (what the README documents):
 * its flags, and the bundle. Tests and benchmarks that run the built server as production runs it use these.
 */
export function productionNodeArgs(): { flags: string[]; script: string } {
  const scripts = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { scripts?: Record<string, string> }).scripts;
  const match = START_PROD.exec(scripts?.['start:prod'] ?? '');
  if (!match)
    throw new Error(`package.json's start:prod is not \`exec node [flags] dist/main.js\`: ${scripts?.['start:prod']}`);
  return { flags: (match[1] ?? '').trim().split(' ').filter(Boolean), script: match[2] as string };
}
