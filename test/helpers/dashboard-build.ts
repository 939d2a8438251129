import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, spawnCommand } from './process.js';

/** The example dashboard's folder. */
export const DASHBOARD = join(ROOT, 'examples/dashboard');

export interface DashboardManifest {
  /** The trusted-documents manifest the example's codegen wrote (hash → document), for TRUSTED_DOCUMENTS. */
  readonly path: string;
  readonly documents: Readonly<Record<string, string>>;
  /** The hash of the manifest's operation named `name`; throws when there is none. */
  hashOf(name: string): string;
}

/** Runs a script of the example's package.json as `npm run <script> -w examples/dashboard`; fails with its output. */
async function runScript(script: string): Promise<void> {
  const run = spawnCommand('npm', ['run', script, '-w', 'examples/dashboard'], {});
  const { code } = await run.exited();
  if (code !== 0)
    throw new Error(`npm run ${script} -w examples/dashboard exited with ${code}:\n${run.stdout()}\n${run.stderr()}`);
}

/**
 * The first half of the example's `npm run build`: codegen from this checkout's schema/schema.graphql, which
 * writes the typed operations and the manifest. A server can start with the manifest while the app builds.
 */
export async function generateDashboardOperations(): Promise<DashboardManifest> {
  await runScript('codegen');
  const path = join(DASHBOARD, 'src/gql/persisted-documents.json');
  const documents = JSON.parse(await readFile(path, 'utf8')) as Record<string, string>;
  return {
    path,
    documents,
    hashOf(name) {
      // A document holds its operation and the fragments it spreads, in any order.
      const pattern = new RegExp(`(^|\\s)(query|mutation|subscription) ${name}\\b`);
      const entry = Object.entries(documents).find(([, document]) => pattern.test(document));
      if (!entry) throw new Error(`no operation ${name} in ${path}`);
      return entry[0];
    },
  };
}

/** The second half: type-checks the example and builds it with Vite; resolves with the folder of the built files. */
export async function buildDashboardApp(): Promise<string> {
  await runScript('build:app');
  return join(DASHBOARD, 'dist');
}
