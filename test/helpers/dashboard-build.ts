import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, spawnCommand } from './process.js';

/** The example dashboard's folder. */
export const DASHBOARD = join(ROOT, 'examples/dashboard');

export interface DashboardBuild {
  /** The built files (examples/dashboard/dist). */
  readonly dist: string;
  /** The trusted-documents manifest its codegen wrote: hash → document. */
  readonly manifestPath: string;
  readonly manifest: Readonly<Record<string, string>>;
  /** The hash of the manifest's operation named `name`; throws when there is none. */
  hashOf(name: string): string;
}

/**
 * Builds the example as its README says (`npm run build -w examples/dashboard`: codegen, type-check, vite build),
 * from the schema in this checkout; fails with the build's output when it fails.
 */
export async function buildDashboard(): Promise<DashboardBuild> {
  const build = spawnCommand('npm', ['run', 'build', '-w', 'examples/dashboard'], {});
  const { code } = await build.exited();
  if (code !== 0)
    throw new Error(`npm run build -w examples/dashboard exited with ${code}:\n${build.stdout()}\n${build.stderr()}`);
  const manifestPath = join(DASHBOARD, 'src/gql/persisted-documents.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, string>;
  return {
    dist: join(DASHBOARD, 'dist'),
    manifestPath,
    manifest,
    hashOf(name) {
      // A document holds its operation and the fragments it spreads, in any order.
      const pattern = new RegExp(`(^|\\s)(query|mutation|subscription) ${name}\\b`);
      const entry = Object.entries(manifest).find(([, document]) => pattern.test(document));
      if (!entry) throw new Error(`no operation ${name} in ${manifestPath}`);
      return entry[0];
    },
  };
}
