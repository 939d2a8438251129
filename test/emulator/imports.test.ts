import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const EMULATOR = join(ROOT, 'src/emulator');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import or re-export of a file: the target (relative to the repository) and whether it is type-only. */
function importsOf(file: string): { target: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  const found: { target: string; typeOnly: boolean }[] = [];
  for (const match of text.matchAll(/^(import|export)\s+(type\s+)?([^;]*?)\s+from\s+'(\.[^']+)'/gms)) {
    const names = match[3]!;
    // `import { type A, type B }` is type-only as well.
    const typeOnly =
      match[2] !== undefined ||
      (/^\{[^}]*\}$/.test(names.trim()) &&
        names
          .replace(/[{}]/g, '')
          .split(',')
          .filter((n) => n.trim() !== '')
          .every((n) => n.trim().startsWith('type ')));
    found.push({ target: relative(ROOT, resolve(dirname(file), match[4]!)), typeOnly });
  }
  for (const match of text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)) {
    found.push({ target: relative(ROOT, resolve(dirname(file), match[1]!)), typeOnly: false });
  }
  return found;
}

describe('the emulator is a separate program', () => {
  it('imports nothing from the gateway but config types (and the shared identifier rules)', () => {
    const outside = sourceFiles(EMULATOR).flatMap((file) =>
      importsOf(file)
        .filter(({ target }) => !target.startsWith('src/emulator/'))
        .map(({ target, typeOnly }) => ({ file: relative(ROOT, file), target, typeOnly })),
    );
    const refused = outside.filter(({ file, target, typeOnly }) => {
      if (target === 'src/identifiers.js') return false;
      // The entry point reads its environment with the same loader the gateway's local mode uses for it.
      if (target === 'src/config.js') return !typeOnly && file !== 'src/emulator/main.ts';
      return true;
    });
    expect(refused).toEqual([]);
    // The scan sees imports at all: the entry point's config import is one of them.
    expect(outside).toContainEqual({ file: 'src/emulator/main.ts', target: 'src/config.js', typeOnly: false });
  });
});
