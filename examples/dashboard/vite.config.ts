import { defineConfig } from 'vite';

export default defineConfig({
  // Vite's own esbuild compiles the JSX for Preact; no framework plugin needed.
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: { target: 'es2022' },
});
