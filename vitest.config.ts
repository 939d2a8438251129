import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql ships ESM and CJS builds; yoga and Pothos load the CJS one. Without this alias our sources would
    // get a second copy, and a GraphQLError from it would not be recognised (and would be masked) by yoga.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    exclude: ['test/bench/**', 'node_modules/**'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests each start their own emulator and server on port 0, so files can run in parallel.
    pool: 'forks',
  },
});
