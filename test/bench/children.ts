import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Repository root: every child runs from here so `tsx` and `src/` resolve the same way as `npm run`. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  /** The process id of the node process itself (no npm or tsx wrapper), for `/proc/<pid>/status`. */
  readonly pid: number;
  /** Last few KB of stdout and stderr, for error messages. */
  output(): string;
  /** Resolves with the first stdout or stderr line matching `pattern`; rejects on exit or after `timeoutMs`. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  /** Variables added to a minimal environment (PATH, HOME); the parent's environment is not inherited. */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra flags for node itself, before `--import tsx`. */
  readonly nodeFlags?: readonly string[];
  /** Open an IPC channel (children use it to exit when the orchestrator dies, and for messages). */
  readonly ipc?: boolean;
  /** Run plain JavaScript without `--import tsx` (S6's pre-built comparison). */
  readonly withoutTsx?: boolean;
  /** For code that is not ours: preload `parent-watch.ts` (over an IPC channel) so it ends with the orchestrator. */
  readonly watchParent?: boolean;
}

const live = new Set<Child>();
const KEEP_OUTPUT = 16_384;

/**
 * Starts `node --import tsx <script> ...args` from the repository root (without `--import tsx` when asked). The child is tracked, so
 * {@link stopAll} (run on exit, SIGINT, SIGTERM and crashes by {@link installCleanup}) always reaps it.
 */
export function spawnTs(name: string, script: string, args: readonly string[] = [], options: SpawnOptions = {}): Child {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    ...(process.env.TMPDIR === undefined ? {} : { TMPDIR: process.env.TMPDIR }),
    ...options.env,
  };
  const loader = [
    ...(options.withoutTsx ? [] : ['--import', 'tsx']),
    ...(options.watchParent ? ['--import', './test/bench/parent-watch.ts'] : []),
  ];
  const ipc = options.ipc === true || options.watchParent === true;
  const proc = spawn(process.execPath, [...(options.nodeFlags ?? []), ...loader, script, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
  });
  if (proc.pid === undefined) throw new Error(`could not spawn ${name} (${script})`);
  const pid = proc.pid;

  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-KEEP_OUTPUT);
  };
  const lineListeners = new Set<(line: string) => void>();
  const splitLines = () => {
    let partial = '';
    return (chunk: Buffer) => {
      keep(chunk);
      partial += chunk.toString('utf8');
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) for (const listener of lineListeners) listener(line);
    };
  };
  proc.stdout?.on('data', splitLines());
  proc.stderr?.on('data', splitLines());

  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? 0));
  });

  let stopping: Promise<void> | undefined;
  const child: Child = {
    name,
    process: proc,
    pid,
    output: () => tail,
    exited,
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          lineListeners.delete(onLine);
        };
        const onLine = (line: string) => {
          const match = line.match(pattern);
          if (match) {
            done();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${name} printed no line matching ${pattern} within ${timeoutMs} ms. Output:\n${tail}`));
        }, timeoutMs);
        lineListeners.add(onLine);
        void exited.then((code) => {
          if (!lineListeners.has(onLine)) return;
          done();
          reject(new Error(`${name} exited (${code}) before printing a line matching ${pattern}. Output:\n${tail}`));
        });
      });
    },
    stop(graceMs = 5000) {
      stopping ??= (async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill('SIGTERM');
          const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
          await exited;
          clearTimeout(timer);
        }
        live.delete(child);
      })();
      return stopping;
    },
  };
  live.add(child);
  void exited.then(() => live.delete(child));
  return child;
}

/** Stops every child still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((child) => child.stop()));
}

/** Kills every child synchronously: the last resort on `process.exit`, where nothing async runs. */
function killAllNow(): void {
  for (const child of live) {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGKILL');
  }
}

let installed = false;

/**
 * Makes sure no child outlives the orchestrator: on SIGINT/SIGTERM children get a graceful stop (then
 * the process exits 130/143), on any exit the survivors are killed.
 */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAllNow);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping ${live.size} child process(es)\n`);
      const hardStop = setTimeout(() => process.exit(code), 6000);
      void stopAll().finally(() => {
        clearTimeout(hardStop);
        process.exit(code);
      });
    });
  }
}

/**
 * Child-side: the job description the parent sends over IPC (argv is too small for 10,000 subscriptions).
 * Announces `ready` only once it listens, because IPC messages that arrive before a listener are lost.
 */
export function receiveJob<T>(): Promise<T> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('this process must be started by the bench orchestrator, with an IPC channel'));
      return;
    }
    const onMessage = (message: { type?: string; job?: T }) => {
      if (message.type !== 'job') return;
      process.off('message', onMessage);
      if (message.job === undefined) reject(new Error('the orchestrator sent an empty job'));
      else resolve(message.job);
    };
    process.on('message', onMessage);
    process.send({ type: 'ready' });
  });
}

/** Parent-side counterpart of {@link receiveJob}: sends `job` once the child says it listens. */
export function sendJob(child: Child, job: unknown): void {
  const onMessage = (message: { type?: string }) => {
    if (message.type !== 'ready') return;
    child.process.off('message', onMessage);
    child.process.send({ type: 'job', job });
  };
  child.process.on('message', onMessage);
}

/**
 * Child-side: exits when the orchestrator's IPC channel closes, so a child never outlives a crashed or
 * SIGKILLed orchestrator. A no-op when the process was not started with IPC.
 */
export function exitWithParent(onExit?: () => Promise<void> | void): void {
  if (!process.send) return;
  process.on('disconnect', () => {
    void Promise.resolve(onExit?.()).finally(() => process.exit(0));
  });
}
