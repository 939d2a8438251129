// Bundles the server and the standalone emulator into dist/ for production: `node dist/main.js` starts
// without transpiling TypeScript at run time (see the cold-start benchmark). Packages stay in node_modules,
// and only those listed in package.json's `dependencies` may be imported: the deployable artifact is dist/ with
// `npm ci --omit=dev` (or `npm prune --omit=dev`), so a devDependency the bundle imported would be missing there
// (test/integration/deploy.test.ts runs that artifact). `--outdir <dir>` writes elsewhere than dist/.
import { build } from 'esbuild';
import { readFile, rm } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const outdir = resolve(values.outdir ?? fileURLToPath(new URL('../dist', import.meta.url)));
const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
const dependencies = new Set(Object.keys(manifest.dependencies ?? {}));

/** `@scope/name/sub/path` → `@scope/name`; `name/sub/path` → `name`. */
const packageOf = (specifier) => specifier.split('/', specifier.startsWith('@') ? 2 : 1).join('/');

/**
 * Leaves every package import external (loaded from node_modules at run time: pino's transports and
 * OpenTelemetry's instrumentation resolve files of their packages by path, which a bundle would break), and
 * fails the build on any package that is not a production dependency.
 */
const productionDependenciesOnly = {
  name: 'production-dependencies-only',
  setup(pluginBuild) {
    // Bare specifiers only: relative and absolute paths are this repository's own files, bundled.
    pluginBuild.onResolve({ filter: /^[^./]/ }, (args) => {
      if (isBuiltin(args.path)) return { path: args.path, external: true };
      const name = packageOf(args.path);
      if (dependencies.has(name)) return { path: args.path, external: true };
      const where = manifest.devDependencies?.[name] ? 'is a devDependency' : 'is not in package.json';
      return {
        errors: [
          {
            text: `${name} ${where}: the production artifact (npm ci --omit=dev) would not have it. Move it to "dependencies", or import it only from tests and scripts.`,
          },
        ],
      };
    });
  },
};

await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: 'src/main.ts', 'emulator/main': 'src/emulator/main.ts' },
  absWorkingDir: fileURLToPath(new URL('..', import.meta.url)),
  outdir,
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.18',
  plugins: [productionDependenciesOnly],
  sourcemap: true,
  logLevel: 'warning',
});
process.stdout.write(`built ${outdir}/main.js and ${outdir}/emulator/main.js\n`);
