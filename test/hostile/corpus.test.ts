import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createApiKeyAuthenticator, sha256Hex } from '../../src/auth/api-keys.js';
import { ERROR_CODES } from '../../src/errors/codes.js';
import type { Logger } from '../../src/logger.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { hostileCorpus, type HostileCase, type Target } from './cases.js';

// Issue 12: every hostile request gets a stable code, the server keeps answering, and nothing secret or internal
// (a token, a key, a stack frame, a file path, the upstream URL) reaches an answer or a log line.
const UPSTREAM_TOKEN = 'cf-hostile-corpus-upstream-token-3b9f0c';
const key = createApiKey({ id: 'corpus', scopes: ['workflows:read', 'workflows:write'] });
const corpus = hostileCorpus();

let dir: string;
let stack: Stack;
let target: Target;
const logLines: string[] = [];
const rss: { before: number; after: number } = { before: 0, after: 0 };

const recordingLogger: Logger = {
  debug: (...args) => logLines.push(args.map(String).join(' ')),
  info: (...args) => logLines.push(args.map(String).join(' ')),
  warn: (...args) => logLines.push(args.map(String).join(' ')),
  error: (...args) => logLines.push(args.map((a) => (a instanceof Error ? (a.stack ?? a.message) : String(a))).join(' ')),
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wfgql-hostile-'));
  const keysFile = join(dir, 'keys.json');
  await writeFile(keysFile, JSON.stringify([key.entry]));
  stack = await startStack({
    authenticator: await createApiKeyAuthenticator(keysFile),
    logger: recordingLogger,
    listen: true,
    emulator: { apiToken: UPSTREAM_TOKEN },
    config: { logLevel: 'debug', upstream: { apiToken: UPSTREAM_TOKEN } },
  });
  target = { port: Number(new URL(stack.url as string).port), key: key.key };
  await healthy();
  rss.before = process.memoryUsage().rss;
});

afterAll(async () => {
  rss.after = process.memoryUsage().rss;
  console.info(
    `hostile corpus: ${corpus.length} cases; RSS ${mib(rss.before)} MiB before, ${mib(rss.after)} MiB after ` +
      `(${mib(rss.after - rss.before)} MiB growth)`,
  );
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** The server answers a plain query within 1 s (the bound for "still alive" after each case). */
async function healthy(): Promise<void> {
  const response = await fetch(`${stack.url as string}?query=${encodeURIComponent('{ __typename }')}`, {
    headers: { authorization: `Bearer ${key.key}`, accept: 'application/graphql-response+json' },
    signal: AbortSignal.timeout(1_000),
  });
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
}

/** What must never appear in an answer or a log line, each with the reason it is listed. */
function forbidden(): readonly (readonly [string, RegExp | string])[] {
  const emulator = new URL(stack.emulator.url);
  return [
    ['the API key', key.key],
    ["the API key's digest", sha256Hex(key.key)],
    ['the upstream token', UPSTREAM_TOKEN],
    ['the upstream URL', emulator.host],
    ['a file path of this checkout', process.cwd()],
    ['a stack frame', /\bat (?:\S+ \()?(?:file:\/\/|\/|node:)\S+:\d+:\d+/],
    ['a source file position', /\.(?:[cm]?[jt]s):\d+:\d+/],
  ];
}

function leaks(text: string): string[] {
  return forbidden()
    .filter(([, pattern]) => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)))
    .map(([what]) => what);
}

const KNOWN_CODES = new Set<string>(Object.keys(ERROR_CODES));

async function check(hostile: HostileCase): Promise<void> {
  const logged = logLines.length;
  const answer = await hostile.send(target);
  const summary = `${hostile.name}: answered ${answer.status} with codes [${answer.codes.join(', ')}]: ${answer.text.slice(0, 400)}`;

  expect(answer.codes[0], summary).toBe(hostile.code);
  if (hostile.status !== undefined) expect(answer.status, summary).toBe(hostile.status);
  if (hostile.transport !== 'graphql-ws') expect(answer.status, summary).toBeGreaterThanOrEqual(400);
  for (const code of answer.codes.filter((c) => !c.startsWith('close '))) expect(KNOWN_CODES, summary).toContain(code);
  expect(leaks(answer.text), `${hostile.name}: leaked into the answer`).toEqual([]);
  const newLines = logLines.slice(logged).join('\n');
  expect(leaks(newLines), `${hostile.name}: leaked into the log: ${newLines.slice(0, 400)}`).toEqual([]);
  await healthy();
}

describe('the hostile corpus', () => {
  it('has at least 300 cases, each named once', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(300);
    expect(new Set(corpus.map((c) => c.name)).size).toBe(corpus.length);
  });

  for (const transport of ['http', 'graphql-ws', 'graphql-sse'] as const) {
    describe(`over ${transport}`, () => {
      for (const hostile of corpus.filter((c) => c.transport === transport)) {
        it(hostile.name, () => check(hostile));
      }
    });
  }

  it('leaves RSS within 256 MiB of where it started', () => {
    // Measured after every case ran (the describe blocks above run first, in order).
    const growth = process.memoryUsage().rss - rss.before;
    expect(growth / 1024 / 1024).toBeLessThan(256);
  });
});
