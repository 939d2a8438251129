// Bundles the server and the standalone emulator into dist/ for production: `node dist/main.js` starts
// without transpiling TypeScript at run time (see the cold-start benchmark). Dependencies stay in node_modules.
import { build } from 'esbuild';
import { rm } from 'node:fs/promises';

const outdir = new URL('../dist/', import.meta.url).pathname;
await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: 'src/main.ts', 'emulator/main': 'src/emulator/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.18',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
});
process.stdout.write(`built ${outdir}main.js and ${outdir}emulator/main.js\n`);
