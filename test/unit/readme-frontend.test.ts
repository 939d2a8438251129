import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { readme } from '../helpers/readme.js';

/**
 * The TypeScript blocks of the README's "Use it from a frontend" are a frontend's source files: each starts with a
 * `// <path>` comment naming its file. This test writes them into a project of their own, with the committed
 * schema/schema.graphql as the schema, runs GraphQL Code Generator with the README's codegen.ts, and type-checks
 * the lot against the real graphql-ws, graphql-sse and client preset, as a browser project would (DOM types).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The modules of the frontend's own that the blocks import, which the README leaves to the app. */
const APP_MODULES: Record<string, string> = {
  'src/auth.ts': "export async function getToken(): Promise<string> {\n  return 'wfgql_example';\n}\n",
  'src/state.ts': 'export function refetchInstanceLists(): void {}\n',
};

async function frontendBlocks(): Promise<Map<string, string>> {
  const text = await readme();
  const start = text.indexOf('## Use it from a frontend');
  expect(start, 'README.md lacks the section "Use it from a frontend"').toBeGreaterThanOrEqual(0);
  const section = text.slice(start, text.indexOf('\n## ', start + 1));
  const files = new Map<string, string>();
  for (const match of section.matchAll(/^( *)```ts\n([\s\S]*?)^\1```/gm)) {
    const indent = match[1]!.length;
    const body = match[2]!
      .split('\n')
      .map((line) => line.slice(indent))
      .join('\n');
    const path = /^\/\/ (\S+\.ts)\b/.exec(body)?.[1];
    expect(path, `a ts block of "Use it from a frontend" does not start with "// <its path>":\n${body}`).toBeDefined();
    files.set(path!, body);
  }
  return files;
}

let project: string | undefined;
afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('the TypeScript of "Use it from a frontend" (README)', () => {
  it('generates with its codegen config and type-checks against graphql-ws, graphql-sse and the client preset', async () => {
    const files = await frontendBlocks();
    expect([...files.keys()]).toEqual(expect.arrayContaining(['codegen.ts', 'src/live.ts', 'src/execute.ts']));

    project = mkdtempSync(join(tmpdir(), 'wfgql-readme-frontend-'));
    symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'), 'dir');
    // The codegen config names the schema file a frontend copies from this repository.
    copyFileSync(join(ROOT, 'schema/schema.graphql'), join(project, 'workflows-graphql.schema.graphql'));
    for (const [path, body] of [...files, ...Object.entries(APP_MODULES)]) {
      mkdirSync(dirname(join(project, path)), { recursive: true });
      writeFileSync(join(project, path), body);
    }

    const cli = dirname(createRequire(import.meta.url).resolve('@graphql-codegen/cli/package.json'));
    const codegen = join(cli, 'cjs/bin.js');
    try {
      // NODE_ENV=test (set by vitest) would make graphql-codegen leave out which operation failed and why.
      const env = { ...process.env, NODE_ENV: 'development' };
      execFileSync(process.execPath, [codegen, '--config', 'codegen.ts'], { cwd: project, stdio: 'pipe', env });
    } catch (error) {
      const { stdout, stderr } = error as { stdout: Buffer; stderr: Buffer };
      // Its progress renderer redraws lines with control characters: only the text is kept.
      const output = stripVTControlCharacters(`${String(stdout)}\n${String(stderr)}`).replaceAll('\r', '\n');
      expect.fail(`graphql-codegen failed on the README's config and operations:\n${output}`);
    }

    const program = ts.createProgram({
      rootNames: [...files.keys(), ...Object.keys(APP_MODULES), 'src/gql/index.ts'].map((p) => join(project!, p)),
      options: {
        target: ts.ScriptTarget.ES2023,
        lib: ['lib.es2023.d.ts', 'lib.dom.d.ts', 'lib.dom.iterable.d.ts'],
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
        strict: true,
        noUncheckedIndexedAccess: true,
        verbatimModuleSyntax: true,
        isolatedModules: true,
        skipLibCheck: true,
        noEmit: true,
        types: [],
      },
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file
        ? `${d.file.fileName.slice(project!.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: `
        : '';
      return `${where}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    expect(problems).toEqual([]);
  }, 120_000);
});
