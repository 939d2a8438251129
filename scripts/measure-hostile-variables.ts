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
import { fileURLToPath } from 'node:url';
import { mib, post, probeEventLoop, startGateway } from './measure-gateway.js';

const args = process.argv.slice(2);
const rootIndex = args.indexOf('--root');
const root = rootIndex >= 0 ? (args[rootIndex + 1] ?? '.') : fileURLToPath(new URL('..', import.meta.url));
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? (args[onlyIndex + 1] ?? '') : '';

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
  const gateway = await startGateway(root);
  const { url, pid, exited } = gateway;
  await post(url, JSON.stringify({ query: '{ __typename }' }), 'application/json');
  console.log(`gateway pid ${pid} at ${url.href}; RSS at start ${mib(gateway.memory().rss)}; root ${root}`);

  const prober = probeEventLoop(url);

  for (const scenario of SCENARIOS.filter((s) => s.name.includes(only))) {
    const bodies = scenario.bodies();
    const target = new URL(scenario.path, url);
    prober.reset();
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
    await prober.settle();
    const alive = gateway.alive();
    const now = gateway.memory();
    const outcomes = [...new Set(answers.map((a) => `${a.status} ${codeOf(a.text)}`))].join(', ');
    console.log(
      `${scenario.name} (${mib(Buffer.byteLength(bodies[0] ?? ''))} each) -> ${outcomes} in ${took.toFixed(0)} ms; ` +
        `slowest /healthz ${prober.slowest().toFixed(0)} ms; RSS ${mib(now.rss)} (peak ${mib(now.peak)})`,
    );
    if (!alive) break;
  }
  await prober.stop();
  gateway.kill();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
