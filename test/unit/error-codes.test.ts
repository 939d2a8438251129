import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors/codes.js';

/**
 * Guards of the error vocabulary (src/errors/): every `extensions.code` the gateway sends is listed in
 * ERROR_CODES, every listed code is sent by someone, all GraphQL errors come from the one builder, and no
 * two exported classes share a name. The sources are read as syntax trees, so comments and strings that
 * merely mention a code do not count.
 */

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
/** The builder itself: the one place allowed to call yoga's createGraphQLError. */
const BUILDER = 'errors/coded-error.ts';
/** Error classes whose `code` field becomes `extensions.code` (the subscription refusals). */
const ERRORS_FOLDER = 'errors/';

interface Source {
  /** Path below src/, with forward slashes. */
  readonly path: string;
  readonly file: ts.SourceFile;
}

let parsed: Source[] | undefined;

/** Every .ts file of src/, parsed once for all tests. */
function sources(): Source[] {
  return (parsed ??= readdirSync(SRC, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.ts'))
    .map((path) => {
      const unix = path.split(sep).join('/');
      const text = readFileSync(join(SRC, path), 'utf8');
      return { path: unix, file: ts.createSourceFile(unix, text, ts.ScriptTarget.Latest, true) };
    }));
}

/** The gateway's own sources: the emulator is a separate program with its own (REST) errors. */
const gatewaySources = (): Source[] => sources().filter((s) => !s.path.startsWith('emulator/'));

function walk(node: ts.Node, visit: (node: ts.Node) => void): void {
  visit(node);
  node.forEachChild((child) => walk(child, visit));
}

const where = (source: Source, node: ts.Node): string =>
  `src/${source.path}:${source.file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;

const calleeName = (call: ts.CallExpression | ts.NewExpression): string | undefined => {
  const callee = call.expression;
  if (ts.isIdentifier(callee)) return callee.text;
  if (ts.isPropertyAccessExpression(callee)) return callee.name.text;
  return undefined;
};

const propertyName = (node: ts.ObjectLiteralElementLike | ts.ClassElement): string | undefined =>
  node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name)) ? node.name.text : undefined;

/** A literal code, or the literal codes of a `cond ? 'A' : 'B'`; null when the expression is anything else. */
function literalCodes(node: ts.Expression): string[] | null {
  if (ts.isStringLiteralLike(node)) return [node.text];
  if (ts.isParenthesizedExpression(node)) return literalCodes(node.expression);
  if (ts.isConditionalExpression(node)) {
    const a = literalCodes(node.whenTrue);
    const b = literalCodes(node.whenFalse);
    return a && b ? [...a, ...b] : null;
  }
  return null;
}

interface Sent {
  readonly code: string;
  readonly at: string;
}

/**
 * Every code src/ puts into `extensions.code`: the second argument of `codedError`, a `code` inside an
 * `extensions` object literal (an error built by hand), and the `code` field of the error classes in
 * src/errors/ that are turned into GraphQL errors.
 */
function codesSentBySrc(): { sent: Sent[]; unknown: string[] } {
  const sent: Sent[] = [];
  const unknown: string[] = [];
  for (const source of gatewaySources()) {
    walk(source.file, (node) => {
      if (ts.isCallExpression(node) && calleeName(node) === 'codedError' && node.arguments[1]) {
        const codes = literalCodes(node.arguments[1]);
        // Anything but a literal is checked by the compiler (ErrorCode); the literals are what we list here.
        for (const code of codes ?? []) sent.push({ code, at: where(source, node) });
      }
      if (ts.isPropertyAssignment(node) && propertyName(node) === 'extensions') {
        if (!ts.isObjectLiteralExpression(node.initializer)) return;
        for (const property of node.initializer.properties) {
          if (!ts.isPropertyAssignment(property) || propertyName(property) !== 'code') continue;
          const codes = literalCodes(property.initializer);
          if (codes === null) unknown.push(where(source, property));
          for (const code of codes ?? []) sent.push({ code, at: where(source, property) });
        }
      }
      if (
        source.path.startsWith(ERRORS_FOLDER) &&
        ts.isPropertyDeclaration(node) &&
        propertyName(node) === 'code' &&
        node.initializer
      ) {
        for (const code of literalCodes(node.initializer) ?? []) sent.push({ code, at: where(source, node) });
      }
    });
  }
  return { sent, unknown };
}

/** The text of graphql-yoga's CommonJS build, where the codes yoga sets by itself are written. */
function yogaBuild(): string {
  const require = createRequire(import.meta.url);
  const root = join(dirname(require.resolve('graphql-yoga/package.json')), 'cjs');
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.js'))
    .map((path) => readFileSync(join(root, path), 'utf8'))
    .join('\n');
}

describe('the error vocabulary (src/errors/codes.ts)', () => {
  it('lists every extensions.code that src/ sends', () => {
    const { sent, unknown } = codesSentBySrc();
    // The scan must find the codes it is meant to find, or it proves nothing.
    expect(sent.length).toBeGreaterThan(10);
    const unlisted = sent.filter(({ code }) => !Object.hasOwn(ERROR_CODES, code)).map((s) => `${s.code} at ${s.at}`);
    // `unknown`: a code in an `extensions` literal that is not a literal, so neither we nor the compiler can check it.
    expect({ unlisted, unknown }).toEqual({ unlisted: [], unknown: [] });
  });

  it('lists only codes that are sent, by src/ or by graphql-yoga itself', () => {
    const bySrc = new Set(codesSentBySrc().sent.map((s) => s.code));
    const yoga = yogaBuild();
    const stale = Object.keys(ERROR_CODES).filter(
      (code) => !bySrc.has(code) && !yoga.includes(`'${code}'`) && !yoga.includes(`"${code}"`),
    );
    expect(stale).toEqual([]);
  });

  it('describes every code in one line', () => {
    const bad = Object.entries(ERROR_CODES).filter(([, description]) => !/^[^\n]{20,}$/.test(description));
    expect(bad).toEqual([]);
  });

  it('builds every GraphQL error in src/ with codedError (no new GraphQLError, no other createGraphQLError)', () => {
    const elsewhere: string[] = [];
    for (const source of gatewaySources()) {
      walk(source.file, (node) => {
        if (ts.isNewExpression(node) && calleeName(node) === 'GraphQLError') elsewhere.push(where(source, node));
        if (ts.isCallExpression(node) && calleeName(node) === 'createGraphQLError' && source.path !== BUILDER) {
          elsewhere.push(where(source, node));
        }
      });
    }
    expect(elsewhere).toEqual([]);
  });
});

describe('exported classes of src/', () => {
  it('have distinct names', () => {
    const byName = new Map<string, string[]>();
    for (const source of sources()) {
      for (const statement of source.file.statements) {
        if (!ts.isClassDeclaration(statement) || !statement.name) continue;
        const exported = ts.getModifiers(statement)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
        if (!exported) continue;
        byName.set(statement.name.text, [...(byName.get(statement.name.text) ?? []), where(source, statement)]);
      }
    }
    expect(byName.size).toBeGreaterThan(20);
    const shared = [...byName].filter(([, places]) => places.length > 1);
    expect(shared).toEqual([]);
  });
});
