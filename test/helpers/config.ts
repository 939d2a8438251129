import { ConfigError, loadConfig } from '../../src/config.js';

/** The problems of the ConfigError `load` throws; fails the test when it throws none (or throws something else). */
export function configProblems(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** The problems `loadConfig` finds in `env`. */
export const problemsOf = (env: Record<string, string>): readonly string[] => configProblems(() => loadConfig(env));
