import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createApiKeyAuthenticator, sha256Hex } from '../../src/auth/api-keys.js';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { createLogger } from '../../src/logger.js';
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
/** RSS and the JS heap after a full garbage collection, before and after the corpus. */
const memory = { before: { rss: 0, heap: 0 }, after: { rss: 0, heap: 0 } };
// The test process's own `gc`: what the corpus leaves behind is what a collection cannot free.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
function measure(): { rss: number; heap: number } {
  collectGarbage();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heap: heapUsed };
}

/**
 * Everything written to stderr or through `console.error`/`console.warn` while the corpus runs: the server runs in
 * this process, and its log lines, and whatever a library prints around the logger, all end up there.
 */
const output: string[] = [];
const restoreOutput: (() => void)[] = [];

function captureOutput(): void {
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stderr.write;
  restoreOutput.push(() => (process.stderr.write = write));
  for (const method of ['error', 'warn'] as const) {
    const original = console[method];
    console[method] = (...args: unknown[]) =>
      output.push(args.map((a) => (a instanceof Error ? (a.stack ?? a.message) : String(a))).join(' '));
    restoreOutput.push(() => (console[method] = original));
  }
}

/** The event loop's longest stall during a case (the server and this test share it). */
const loopDelay = monitorEventLoopDelay({ resolution: 10 });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wfgql-hostile-'));
  const keysFile = join(dir, 'keys.json');
  await writeFile(keysFile, JSON.stringify([key.entry]));
  captureOutput();
  stack = await startStack({
    authenticator: await createApiKeyAuthenticator(keysFile),
    // The logger the server runs with (src/main.ts), at every level; through process.stderr.write, which the capture
    // above replaces (its own destination writes file descriptor 2 directly).
    logger: createLogger('debug', [UPSTREAM_TOKEN], {
      format: 'json',
      destination: { write: (line: string) => process.stderr.write(line) },
    }),
    listen: true,
    emulator: { apiToken: UPSTREAM_TOKEN },
    config: { logLevel: 'debug', upstream: { apiToken: UPSTREAM_TOKEN } },
  });
  target = { port: Number(new URL(stack.url as string).port), key: key.key };
  await healthy();
  memory.before = measure();
  loopDelay.enable();
});

afterAll(async () => {
  loopDelay.disable();
  for (const restore of restoreOutput.splice(0)) restore();
  const { before, after } = memory;
  console.info(
    `hostile corpus: ${corpus.length} cases; after a full GC, RSS ${mib(before.rss)} MiB before, ${mib(after.rss)} ` +
      `MiB after (${mib(after.rss - before.rss)} MiB growth); JS heap ${mib(before.heap)} MiB before, ` +
      `${mib(after.heap)} MiB after (${mib(after.heap - before.heap)} MiB growth)`,
  );
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** The server answers a plain query within 1 s (the bound for "still alive"). */
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

/**
 * Sends health queries every 100 ms until `stop` is called, each of which must answer within 1 s: the server stays
 * alive *while* a case runs, not only once its answer arrived. Resolves with the first failure, if any.
 */
function probeWhile(): { stop(): Promise<unknown> } {
  let stopped = false;
  let wake: () => void = () => undefined;
  const failures: unknown[] = [];
  const loop = (async () => {
    while (!stopped) {
      await healthy().catch((error: unknown) => failures.push(error));
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake();
      await loop;
      return failures[0];
    },
  };
}

async function check(hostile: HostileCase): Promise<void> {
  const logged = output.length;
  loopDelay.reset();
  const probe = probeWhile();
  let answer: Awaited<ReturnType<HostileCase['send']>>;
  let probeFailure: unknown;
  try {
    answer = await hostile.send(target);
  } finally {
    probeFailure = await probe.stop();
  }
  const summary = `${hostile.name}: answered ${answer.status} with codes [${answer.codes.join(', ')}]: ${answer.text.slice(0, 400)}`;

  expect(answer.codes[0], summary).toBe(hostile.code);
  // A refusal says what was wrong, not the request again: no answer may amplify what was sent.
  expect(answer.text.length, summary).toBeLessThan(64 * 1024);
  if (hostile.status !== undefined) expect(answer.status, summary).toBe(hostile.status);
  for (const code of answer.codes.filter((c) => !c.startsWith('close '))) expect(KNOWN_CODES, summary).toContain(code);
  expect(leaks(answer.text), `${hostile.name}: leaked into the answer`).toEqual([]);
  const newLines = output.slice(logged).join('');
  expect(leaks(newLines), `${hostile.name}: leaked into the log: ${newLines.slice(0, 600)}`).toEqual([]);
  expect(probeFailure, `${hostile.name}: a health query sent meanwhile did not answer within 1 s`).toBeUndefined();
  // Sampled every 10 ms; a stall of a second blocks every other client of the server for as long.
  expect(loopDelay.max / 1e6, `${hostile.name}: the event loop stalled (ms)`).toBeLessThan(1_000);
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

  it('wrote nothing secret or internal to stderr or the console while it ran', () => {
    // Between cases too: a socket's error can be reported after its case's answer arrived.
    const leaking = output.filter((chunk) => leaks(chunk).length > 0);
    expect(leaking.map((chunk) => chunk.slice(0, 600))).toEqual([]);
  });

  it('leaves, after a full GC, the JS heap within 32 MiB and RSS within 384 MiB of where they started', () => {
    // Measured after every case ran (the describe blocks above run first, in order). The heap is what the server
    // still holds; RSS also keeps pages V8 freed but has not returned, so its bound is looser.
    memory.after = measure();
    expect((memory.after.heap - memory.before.heap) / 1024 / 1024).toBeLessThan(32);
    expect((memory.after.rss - memory.before.rss) / 1024 / 1024).toBeLessThan(384);
  });
});
