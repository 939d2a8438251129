import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layers of src/ (docs/architecture.md): a module imports only from its own layer or the
 * layers before it, and no file imports itself back through others, type-only imports included.
 * `eslint-plugin-import-x`'s `no-cycle` (eslint.config.js) catches value cycles while editing; this test
 * also covers type imports and the direction between folders. The emulator is a separate program and has
 * its own test (test/emulator/imports.test.ts).
 */
const LAYERS: readonly (readonly string[])[] = [
  ['config'],
  ['logger'],
  ['upstream'],
  ['identifiers', 'state-machine', 'cache', 'errors', 'graphql', 'auth'],
  ['loaders', 'mutations', 'subscriptions'],
  ['context', 'redis'],
  ['schema', 'cost'],
  ['transport', 'cors', 'graphiql', 'tracing', 'metrics', 'trusted-documents', 'health', 'logging', 'operations'],
  ['app'],
  ['main'],
];

const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'emulator' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The module a file belongs to: its folder under src/, or its own name for files directly in src/. */
const moduleOf = (file: string): string => {
  const [first = '', ...rest] = relative(SRC, file).split('/');
  return rest.length === 0 ? first.replace(/\.ts$/, '') : first;
};

const layerOf = (module: string): number => LAYERS.findIndex((layer) => layer.includes(module));

/** Files of src/ that `file` imports or re-exports, type-only ones included. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, false);
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => resolve(dirname(file), name.replace(/\.js$/, '.ts')));
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((file) => [file, importsOf(file)]));

describe('the layers of src/', () => {
  it('name every module of src/', () => {
    const unplaced = [...new Set(files.map(moduleOf))].filter((module) => layerOf(module) < 0);
    expect(unplaced).toEqual([]);
  });

  it('are only imported forwards: a module imports from its own layer or earlier ones', () => {
    const backwards: string[] = [];
    for (const [file, imports] of graph) {
      const from = moduleOf(file);
      for (const target of imports) {
        const to = moduleOf(target);
        if (to !== 'emulator' && layerOf(to) > layerOf(from)) {
          backwards.push(`${relative(ROOT, file)} -> ${relative(ROOT, target)}`);
        }
      }
    }
    expect(backwards).toEqual([]);
  });

  it('have no import cycle between files, nor two folders that import each other', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'visiting');
      stack.push(file);
      for (const target of graph.get(file) ?? []) {
        if (!graph.has(target)) continue;
        if (state.get(target) === 'visiting') {
          cycles.push(
            stack
              .slice(stack.indexOf(target))
              .concat(target)
              .map((f) => relative(SRC, f))
              .join(' -> '),
          );
        } else if (!state.has(target)) {
          visit(target);
        }
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);

    const folderEdges = new Set<string>();
    for (const [file, imports] of graph) {
      for (const target of imports) {
        const from = moduleOf(file);
        const to = moduleOf(target);
        if (from !== to) folderEdges.add(`${from} -> ${to}`);
      }
    }
    const twoWay = [...folderEdges].filter((edge) => {
      const [from, to] = edge.split(' -> ');
      return from! < to! && folderEdges.has(`${to} -> ${from}`);
    });
    expect(twoWay).toEqual([]);
  });
});
