/**
 * What the hostile-input measuring scripts (scripts/measure-hostile-*.ts) share: a gateway started from a
 * checkout as a child process in local mode, its memory from `/proc`, POSTs with a long timeout, and an outside
 * view of its event loop (the slowest `/healthz` answer). Not used by tests.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';

const ANSWER_TIMEOUT_MS = 180_000;

export interface MeasuredGateway {
  /** `http://127.0.0.1:PORT/graphql`. */
  readonly url: URL;
  readonly pid: number;
  /** Resolves with why, if the process ends (a heap exhausted, say). */
  readonly exited: Promise<string>;
  alive(): boolean;
  /** VmRSS now and VmHWM (the peak), in bytes; zeros once the process is gone. */
  memory(): { rss: number; peak: number };
  kill(): void;
}

/** Starts `src/main.ts` of the checkout at `root` with `NODE_ENV=production` and waits for its URL. */
export async function startGateway(root: string): Promise<MeasuredGateway> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: '0',
      NODE_ENV: 'production',
      LOCAL_MODE: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(`exited (${signal ?? code}): ${stderr.slice(-400)}`)),
  );
  const url = await new Promise<URL>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const match = /at (http:\S+\/graphql)/.exec(out);
      if (match?.[1]) resolve(new URL(match[1]));
    });
    void exited.then((why) => reject(new Error(why)));
  });
  const pid = child.pid ?? 0;
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    url,
    pid,
    exited,
    alive,
    memory() {
      if (!alive()) return { rss: 0, peak: 0 };
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
      return { rss: kib('VmRSS'), peak: kib('VmHWM') };
    },
    kill: () => child.kill('SIGKILL'),
  };
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** POSTs `body` as JSON and keeps the first 2,000 characters of the answer. */
export function post(url: URL, body: string, accept = 'application/json'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', accept, 'content-length': String(Buffer.byteLength(body)) },
        timeout: ANSWER_TIMEOUT_MS,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text.length < 2000 ? (text += chunk) : undefined));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function healthz(url: URL): Promise<void> {
  return new Promise((resolve) => {
    const req = request(new URL('/healthz', url), { agent: false }, (res) => {
      res.resume().on('end', () => resolve());
    });
    req.on('error', () => resolve());
    req.end();
  });
}

/**
 * Probes `/healthz` one request after another (every 20 ms): a probe's duration is how long the event loop kept
 * its answer waiting. `slowest()` says the longest since the last `reset()`.
 */
export function probeEventLoop(url: URL): {
  reset(): void;
  slowest(): number;
  settle(): Promise<void>;
  stop(): Promise<void>;
} {
  let slowest = 0;
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const sent = performance.now();
      await healthz(url);
      slowest = Math.max(slowest, performance.now() - sent);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    reset: () => (slowest = 0),
    slowest: () => slowest,
    // One more probe after an answer, so that work left after it (garbage collection) is counted too.
    settle: () => healthz(url),
    async stop() {
      probing = false;
      await prober;
    },
  };
}
