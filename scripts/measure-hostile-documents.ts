/**
 * Measures what huge GraphQL documents do to a gateway process (issue 12, "Out of memory, from one client"):
 * starts `src/main.ts` in local mode as a child process, POSTs distinct documents of about 16 MiB, each
 * ~1M aliases of `__typename`, one after the other, and reports per document the answer (status, code), the
 * time to answer, the longest event-loop block seen from outside (the slowest `/healthz` answer, probed every
 * 20 ms), and the RSS of the gateway (`/proc/<pid>/status`: VmRSS now, VmHWM the peak).
 *
 *   npx tsx scripts/measure-hostile-documents.ts [documents=6] [--root <checkout>]
 *
 * `--root` runs another checkout's `src/main.ts` (the code before a change, for a before/after comparison).
 * Not a test: timings depend on the machine; the suite asserts the codes and limits instead.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const rootIndex = args.indexOf('--root');
const root = rootIndex >= 0 ? (args[rootIndex + 1] ?? '.') : fileURLToPath(new URL('..', import.meta.url));
const count = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== '--root') ?? 6);
/** The default MAX_REQUEST_BYTES: the largest body the gateway reads. */
const BODY_BYTES = 16 * 1024 * 1024 - 64;
const ANSWER_TIMEOUT_MS = 180_000;

function documentOf(seed: number): string {
  // Distinct per seed, so that no cache can answer a later one.
  const parts: string[] = ['{'];
  let bytes = 30;
  for (let i = 0; bytes < BODY_BYTES; i++) {
    const alias = `s${seed}_${i.toString(36)}:__typename `;
    parts.push(alias);
    bytes += alias.length;
  }
  parts.pop();
  parts.push('}');
  return parts.join('');
}

const memory = (pid: number): { rss: number; peak: number } => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
};

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

function post(url: URL, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
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

async function main(): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', NODE_ENV: 'production' },
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
  await post(url, JSON.stringify({ query: '{ __typename }' }));
  const start = memory(pid);
  console.log(`gateway pid ${pid} at ${url.href}; RSS at start ${mib(start.rss)}; root ${root}`);

  // Probes run one after another: a probe's duration is how long the event loop kept the answer waiting.
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

  for (let seed = 0; seed < count; seed++) {
    const query = documentOf(seed);
    const body = JSON.stringify({ query });
    slowest = 0;
    const sent = performance.now();
    const answer = await Promise.race([
      post(url, body).catch((error: Error) => ({ status: 0, text: error.message })),
      exited.then((why) => ({ status: -1, text: why })),
    ]);
    const took = performance.now() - sent;
    let code = '';
    try {
      const parsed = JSON.parse(answer.text) as { errors?: { extensions?: { code?: string } }[] };
      code = parsed.errors?.[0]?.extensions?.code ?? (parsed.errors ? '(no code)' : 'data');
    } catch {
      code = answer.text.slice(0, 200);
    }
    // One more probe after the answer, so that work left after it (garbage collection) is counted too.
    await healthz(url);
    const now = child.exitCode === null && child.signalCode === null ? memory(pid) : { rss: 0, peak: 0 };
    console.log(
      `document ${seed + 1}: ${mib(Buffer.byteLength(body))}, ${query.split(':').length - 1} aliases -> ` +
        `${answer.status} ${code} in ${took.toFixed(0)} ms; slowest /healthz ${slowest.toFixed(0)} ms; ` +
        `RSS ${mib(now.rss)} (peak ${mib(now.peak)})`,
    );
    if (answer.status === -1) break;
  }
  probing = false;
  await prober;
  child.kill('SIGKILL');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
