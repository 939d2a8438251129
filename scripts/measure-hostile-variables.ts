/**
 * Measures what huge lists in GraphQL variables do to a gateway process (issue 12, unbounded lists): starts
 * `src/main.ts` in local mode as a child process and sends, one scenario after the other,
 * - `nodes(ids: $ids)` with 3,500,000 ids (~14 MB) to POST /graphql and to POST /graphql/stream;
 * - `createInstances` with 4,000,000 items `{}` (~8 MB) to POST /graphql;
 * - 6 such `createInstances` of 5,000,000 items at once;
 * - `createInstances` whose input object has 1,000,000 members its type does not declare (~12 MB).
 * For each it reports the answers (status, first code), the time to the last answer, the longest event-loop
 * block seen from outside (the slowest `/healthz` answer, probed every 20 ms) and the RSS of the gateway
 * (`/proc/<pid>/status`: VmRSS after the scenario, VmHWM the peak so far).
 *
 *   npx tsx scripts/measure-hostile-variables.ts [--root <checkout>] [--only <part of a scenario's name>]
 *
 * `--root` runs another checkout's `src/main.ts` (the code before a change, for a before/after comparison).
 * Not a test: timings depend on the machine; the suite asserts the codes and that nothing reaches upstream.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const rootIndex = args.indexOf('--root');
const root = rootIndex >= 0 ? (args[rootIndex + 1] ?? '.') : fileURLToPath(new URL('..', import.meta.url));
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? (args[onlyIndex + 1] ?? '') : '';
const ANSWER_TIMEOUT_MS = 180_000;

const NODES = 'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }';
const CREATE = 'mutation ($input: CreateInstancesInput!) { createInstances(input: $input) { __typename } }';

const nodesBody = (n: number) => `{"query":${JSON.stringify(NODES)},"variables":{"ids":[${'"x",'.repeat(n - 1)}"x"]}}`;
const createBody = (n: number) =>
  `{"query":${JSON.stringify(CREATE)},"variables":{"input":{"workflowName":"order-fulfillment","instances":[${'{},'.repeat(n - 1)}{}]}}}`;

interface Scenario {
  readonly name: string;
  readonly path: string;
  readonly accept: string;
  readonly bodies: () => string[];
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: 'nodes, 3,500,000 ids, POST /graphql',
    path: '/graphql',
    accept: 'application/graphql-response+json',
    bodies: () => [nodesBody(3_500_000)],
  },
  {
    name: 'nodes, 3,500,000 ids, POST /graphql/stream',
    path: '/graphql/stream',
    accept: 'text/event-stream',
    bodies: () => [nodesBody(3_500_000)],
  },
  {
    name: 'createInstances, 4,000,000 items, POST /graphql',
    path: '/graphql',
    accept: 'application/graphql-response+json',
    bodies: () => [createBody(4_000_000)],
  },
  {
    name: '6 concurrent createInstances, 5,000,000 items each, POST /graphql',
    path: '/graphql',
    accept: 'application/graphql-response+json',
    bodies: () => Array.from({ length: 6 }, () => createBody(5_000_000)),
  },
  {
    name: 'createInstances, 1,000,000 undeclared input members, POST /graphql',
    path: '/graphql',
    accept: 'application/graphql-response+json',
    bodies: () => [
      `{"query":${JSON.stringify(CREATE)},"variables":{"input":{"workflowName":"w","instances":[{}],${Array.from({ length: 1_000_000 }, (_, i) => `"k${i}":1`).join(',')}}}}`,
    ],
  },
];

const memory = (pid: number): { rss: number; peak: number } => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
};

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

function post(url: URL, body: string, accept: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          accept,
          'content-length': String(Buffer.byteLength(body)),
        },
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

/** The first `extensions.code` of a JSON answer or of an SSE `next` event's data. */
function codeOf(text: string): string {
  const json = /^data: (.*)$/m.exec(text)?.[1] ?? text;
  try {
    const parsed = JSON.parse(json) as { errors?: { extensions?: { code?: string } }[] };
    return parsed.errors?.[0]?.extensions?.code ?? (parsed.errors ? '(no code)' : 'data');
  } catch {
    return text.slice(0, 200);
  }
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
  await post(url, JSON.stringify({ query: '{ __typename }' }), 'application/json');
  console.log(`gateway pid ${pid} at ${url.href}; RSS at start ${mib(memory(pid).rss)}; root ${root}`);

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

  for (const scenario of SCENARIOS.filter((s) => s.name.includes(only))) {
    const bodies = scenario.bodies();
    const target = new URL(scenario.path, url);
    slowest = 0;
    const sent = performance.now();
    const answers = await Promise.race([
      Promise.all(
        bodies.map((body) =>
          post(target, body, scenario.accept).catch((error: Error) => ({ status: 0, text: error.message })),
        ),
      ),
      exited.then((why) => [{ status: -1, text: why }]),
    ]);
    const took = performance.now() - sent;
    // One more probe after the answers, so that work left after them (garbage collection) is counted too.
    await healthz(url);
    const alive = child.exitCode === null && child.signalCode === null;
    const now = alive ? memory(pid) : { rss: 0, peak: 0 };
    const outcomes = [...new Set(answers.map((a) => `${a.status} ${codeOf(a.text)}`))].join(', ');
    console.log(
      `${scenario.name} (${mib(Buffer.byteLength(bodies[0] ?? ''))} each) -> ${outcomes} in ${took.toFixed(0)} ms; ` +
        `slowest /healthz ${slowest.toFixed(0)} ms; RSS ${mib(now.rss)} (peak ${mib(now.peak)})`,
    );
    if (!alive) break;
  }
  probing = false;
  await prober;
  child.kill('SIGKILL');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
