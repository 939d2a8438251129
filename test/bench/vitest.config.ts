import { defineConfig } from 'vitest/config';

/**
 * The harness's own tests: `npx vitest run --config test/bench/vitest.config.ts`. Kept out of `npm test`
 * (the root config excludes test/bench) like the benchmarks themselves; they check the arithmetic and the
 * process handling, never timing.
 */
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/bench/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
