import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = `${ROOT}node_modules/.bin/tsx`;

export interface SpawnedProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout (or stderr), or rejects at the deadline or on exit. */
  waitForLine(
    pattern: RegExp,
    options?: { timeoutMs?: number; stream?: 'stdout' | 'stderr' },
  ): Promise<RegExpMatchArray>;
  /**
   * Resolves once the process has exited and its output has been read to the end (or, if something it started
   * still holds its output pipes, {@link OUTPUT_AFTER_EXIT_MS} after it exited).
   */
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/** How long {@link SpawnedProcess.exited} waits for the output pipes to close once the process has exited. */
const OUTPUT_AFTER_EXIT_MS = 2000;

/**
 * What may still be running, and whether it leads a process group of its own (then the whole group is killed).
 * A child is forgotten once its output pipes have closed: whatever it started that inherited them has exited too.
 */
const running = new Map<ChildProcess, { group: boolean }>();
afterAll(() => {
  for (const [child, { group }] of running) {
    if (group) killGroup(child, 'SIGKILL');
    else child.kill('SIGKILL');
  }
});

function killGroup(leader: ChildProcess, signal: NodeJS.Signals): void {
  if (leader.pid === undefined) return;
  try {
    process.kill(-leader.pid, signal);
  } catch {
    // The whole group is gone already.
  }
}

/**
 * Runs an entry point of this repository with a clean environment: TypeScript through tsx, as `npm start`
 * would, or plain JavaScript (`.js`, `.mjs`) with node, as `npm run start:prod` would. With `importTsx`,
 * TypeScript runs in node itself (`node --import tsx`), so that every signal reaches the server: the tsx
 * command relays only SIGINT and SIGTERM to its child, and dies of the others (SIGHUP and SIGKILL, leaving its
 * node child running). So the tsx command gets a process group of its own, which the clean-up kills whole.
 * `preload`: modules node imports before the entry (test fixtures), which implies `importTsx`.
 */
export function spawnEntry(
  entry: string,
  env: Record<string, string>,
  options: { importTsx?: boolean; preload?: readonly string[] } = {},
): SpawnedProcess {
  const javascript = /\.m?js$/.test(entry);
  const preload = (options.preload ?? []).flatMap((module) => ['--import', module]);
  const [command, args] =
    javascript || options.importTsx || preload.length > 0
      ? [process.execPath, [...(javascript ? [] : ['--import', 'tsx']), ...preload, entry]]
      : [TSX, [entry]];
  return spawnCommand(command, args, env, { detached: command === TSX });
}

/**
 * Runs any command (`npm run start:prod`, node on a copied bundle) as {@link spawnEntry} runs an entry point: with a
 * clean environment, in `cwd` (this repository by default). `detached`: in a process group of its own, whose id
 * is the child's pid, so that `process.kill(-pid)` reaches whatever the command started and left behind.
 */
export function spawnCommand(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  options: { cwd?: string; detached?: boolean } = {},
): SpawnedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  running.set(child, { group: options.detached ?? false });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  // Until then a group may outlive its leader (tsx's node child does): it stays listed for the clean-up.
  const closed = once(child, 'close').then(() => void running.delete(child));
  // Node emits `exit` before the last of the output may have been read: an exit is told with all of it.
  const exit = once(child, 'exit').then(async ([code, signal]) => {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, OUTPUT_AFTER_EXIT_MS)))]);
    clearTimeout(timer);
    return { code: code as number | null, signal: signal as NodeJS.Signals | null };
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    // SIGKILL cannot be relayed by a leader: it reaches the whole group.
    kill: (signal = 'SIGTERM') =>
      options.detached && signal === 'SIGKILL' ? killGroup(child, signal) : child.kill(signal),
    waitForLine(pattern, { timeoutMs = 15_000, stream = 'stdout' } = {}) {
      const source = stream === 'stdout' ? child.stdout : child.stderr;
      const text = () => (stream === 'stdout' ? out : err);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => finish(new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`)),
          timeoutMs,
        );
        const check = () => {
          const match = text().match(pattern);
          if (match) finish(undefined, match);
        };
        const onExit = () =>
          finish(new Error(`process exited before printing ${pattern}; stdout: ${out}; stderr: ${err}`));
        function finish(error?: Error, match?: RegExpMatchArray) {
          clearTimeout(timer);
          source?.off('data', check);
          child.off('exit', onExit);
          if (error) reject(error);
          else resolve(match as RegExpMatchArray);
        }
        source?.on('data', check);
        child.once('exit', onExit);
        check();
      });
    },
  };
}
