import { readFile } from 'node:fs/promises';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

interface LockPackage {
  version?: string;
  engines?: { node?: string } | string[];
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(new URL(`../../${path}`, import.meta.url), 'utf8')) as T;
}

describe('dependency tree', () => {
  it('installs on the oldest Node.js that package.json promises', async () => {
    const manifest = await readJson<{ engines: { node: string } }>('package.json');
    const oldest = semver.minVersion(manifest.engines.node);
    expect(oldest).not.toBeNull();
    const lock = await readJson<{ packages: Record<string, LockPackage> }>('package-lock.json');
    // CI runs a newer Node than the oldest supported one, so engine-strict alone would not catch these.
    const incompatible = Object.entries(lock.packages)
      .filter(([, pkg]) => {
        const range = Array.isArray(pkg.engines) ? undefined : pkg.engines?.node;
        return range !== undefined && !semver.satisfies(oldest!, range);
      })
      .map(([path, pkg]) => `${path}@${pkg.version} needs node ${(pkg.engines as { node: string }).node}`);
    expect(incompatible).toEqual([]);
  });
});
