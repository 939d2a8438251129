import { isDeepStrictEqual } from 'node:util';
import { request } from 'undici';
import { FULFILLMENT_WORKFLOW, type Order } from '../federation/orders-subgraph.js';
import type { Subgraph } from '../federation/gateway.js';
import { spawnTs } from './children.js';
import { describeRoutes } from './counts.js';
import { assertClean, graphqlRequest, runSustained } from './load.js';
import { checkBody, type SustainedResult } from './load-spec.js';
import { readCpuSeconds } from './proc.js';
import { verdict, type Metric } from './report.js';
import { UNLIMITED, WARMUP_S } from './s1-instance-by-id.js';
import type { Scenario, ScenarioOutcome } from './scenario.js';
import { scoped } from './scope.js';
import { seedWorkflow } from './seed.js';
import { startEmulator, startGateway, type EmulatorProcess, type HttpProcess } from './stack.js';

const ORDERS = 20;
/** Queries per side one at a time for the exact upstream counts. */
const COUNTED = 5;
/**
 * The load: one connection at a fixed rate. Concurrent identical queries would be merged, and at different
 * layers on the two sides (this server's in-flight table for upstream GETs, Hive's executor for identical
 * subgraph requests), so that one side could skip upstream calls the other makes.
 */
const CONNECTIONS = 1;
/** Queries per second: both sides keep it on a busy 2-core machine (the supergraph's p50 is about 50 ms). */
const RATE = 10;
/** Direct and supergraph runs alternate (D S, then S D) against drift on a shared machine, as in S1. */
const ROUNDS = 2;
const START_TIMEOUT_MS = 30_000;

const FULFILLMENT_FIELDS = 'instanceId status canTerminate steps { ... on NamedStep { name } }';

/** Issue 15's query through the supergraph: 20 orders with their fulfillment's status, steps and canTerminate. */
const SUPERGRAPH_QUERY = `{ orders { id total fulfillment { ${FULFILLMENT_FIELDS} } } }`;

/** The same fulfillments from this server alone, as the gateway asks for them: `_entities` with the 20 keys. */
const ENTITIES_QUERY = `query Fulfillments($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on WorkflowInstance { ${FULFILLMENT_FIELDS} } }
}`;

/** The same fulfillments as a client of this server alone would write them: one `instance(...)` alias each. */
function aliasesQuery(instanceIds: readonly string[]): string {
  const aliases = instanceIds.map(
    (id, i) =>
      `i${i}: instance(workflowName: ${JSON.stringify(FULFILLMENT_WORKFLOW)}, instanceId: ${JSON.stringify(id)}) { ${FULFILLMENT_FIELDS} }`,
  );
  return `{ ${aliases.join(' ')} }`;
}

type Fulfillment = Readonly<Record<string, unknown>>;

/** Starts one part of the supergraph (`supergraph-host.ts`) as its own process and waits for its start-up line. */
async function startPart(role: 'orders' | 'gateway', job: unknown, line: RegExp): Promise<HttpProcess> {
  const child = spawnTs(`${role} (supergraph)`, 'test/bench/supergraph-host.ts', [role, JSON.stringify(job)], {
    ipc: true,
    // As they would be deployed, and as this server runs (stack.ts's gatewayEnv).
    env: { NODE_ENV: 'production' },
  });
  try {
    const [, url] = await child.waitForLine(line, START_TIMEOUT_MS);
    if (url === undefined) throw new Error(`${role} start-up line without URL`);
    return { origin: new URL(url).origin, child, stop: () => child.stop() };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

async function post(origin: string, query: string, variables?: Record<string, unknown>): Promise<unknown> {
  const { body, headers } = graphqlRequest(query, variables);
  const response = await request(`${origin}/graphql`, { method: 'POST', body, headers });
  const text = await response.body.text();
  const problem = response.statusCode === 200 ? checkBody('graphql', text) : `HTTP ${response.statusCode}`;
  if (problem !== undefined) throw new Error(`${problem}: ${text.slice(0, 300)}`);
  return (JSON.parse(text) as { data: unknown }).data;
}

interface Counted {
  /** Upstream calls per query, the mean over {@link COUNTED} queries sent one at a time. */
  readonly calls: number;
  readonly routes: string;
  /** The fulfillments of the last answer, in order. */
  readonly fulfillments: readonly Fulfillment[];
}

/** Upstream calls per query, counted at the emulator, one query at a time. */
async function count(emulator: EmulatorProcess, send: () => Promise<readonly Fulfillment[]>): Promise<Counted> {
  await emulator.resetCounts();
  let fulfillments: readonly Fulfillment[] = [];
  for (let i = 0; i < COUNTED; i++) fulfillments = await send();
  const counts = await emulator.counts();
  return { calls: counts.total / COUNTED, routes: describeRoutes(counts), fulfillments };
}

/** The processes whose CPU time a query costs, by the name the notes give them. */
type Part = 'Hive Gateway' | 'orders subgraph' | 'this server' | 'emulator';
const PARTS: readonly Part[] = ['Hive Gateway', 'orders subgraph', 'this server', 'emulator'];
const mapParts = (f: (part: Part) => number) =>
  Object.fromEntries(PARTS.map((part) => [part, f(part)])) as Record<Part, number>;

async function readCpu(pids: Readonly<Record<Part, number>>): Promise<Record<Part, number>> {
  const seconds = await Promise.all(PARTS.map(async (part) => [part, await readCpuSeconds(pids[part])] as const));
  return Object.fromEntries(seconds) as Record<Part, number>;
}

interface Run {
  readonly result: SustainedResult;
  readonly upstream: number;
  /** CPU seconds of each process over the measured part of the run (after the warm-up). */
  readonly cpuS: Readonly<Record<Part, number>>;
}

interface Side {
  readonly p50: number;
  readonly p95: number;
  readonly rps: number;
  /**
   * Upstream calls per good response, over warm-ups and measurements; a little above 20, because the query in
   * flight when a run's time is up has made its calls but is not counted as a response.
   */
  readonly upstreamPerResponse: number;
  /** CPU ms per good response of each process, over the measured parts. */
  readonly cpuMsPerQuery: Readonly<Record<Part, number>>;
}

function combine(runs: readonly Run[]): Side {
  const sum = (f: (r: Run) => number) => runs.reduce((acc, r) => acc + f(r), 0);
  return {
    p50: sum((r) => r.result.latencyMs.p50) / runs.length,
    p95: sum((r) => r.result.latencyMs.p95) / runs.length,
    rps: sum((r) => r.result.ok) / sum((r) => r.result.durationS),
    upstreamPerResponse: sum((r) => r.upstream) / sum((r) => r.result.ok + r.result.warmupOk),
    cpuMsPerQuery: mapParts((part) => (1000 * sum((r) => r.cpuS[part])) / sum((r) => r.result.ok)),
  };
}

export const s8: Scenario = {
  id: 's8',
  title: '20 orders through the supergraph',
  run: (settings) =>
    scoped(async (scope): Promise<ScenarioOutcome> => {
      const emulator = scope.use(await startEmulator({ latencyMs: settings.latencyMs }));
      // Running instances (their hold step lasts an hour): the finished-instance cache never answers for them,
      // so each read is an upstream call on both sides, which reach the same server process.
      const { instanceIds } = await seedWorkflow(emulator, FULFILLMENT_WORKFLOW, ORDERS);
      const orders: Order[] = instanceIds.map((instanceId, i) => ({
        id: `order-${i + 1}`,
        total: 10 + i * 2.5,
        instanceId,
      }));
      const server = scope.use(await startGateway({ upstreamUrl: emulator.url, rateLimit: UNLIMITED }));
      const ordersSubgraph = scope.use(await startPart('orders', orders, /^Orders subgraph at (http:\/\/\S+)$/));
      const subgraphs: Subgraph[] = [
        { name: 'workflows', url: `${server.origin}/graphql` },
        { name: 'orders', url: `${ordersSubgraph.origin}/graphql` },
      ];
      const supergraph = scope.use(await startPart('gateway', subgraphs, /^Supergraph gateway at (http:\/\/\S+)$/));

      const representations = instanceIds.map((instanceId) => ({
        __typename: 'WorkflowInstance',
        workflowName: FULFILLMENT_WORKFLOW,
        instanceId,
      }));
      const aliases = aliasesQuery(instanceIds);
      const viaSupergraph = await count(emulator, async () => {
        const data = (await post(supergraph.origin, SUPERGRAPH_QUERY)) as { orders: { fulfillment: Fulfillment }[] };
        return data.orders.map((order) => order.fulfillment);
      });
      const viaEntities = await count(emulator, async () => {
        const data = (await post(server.origin, ENTITIES_QUERY, { representations })) as { _entities: Fulfillment[] };
        return data._entities;
      });
      const viaAliases = await count(emulator, async () =>
        Object.values((await post(server.origin, aliases)) as Record<string, Fulfillment>),
      );
      if (!isDeepStrictEqual(viaSupergraph.fulfillments, viaEntities.fulfillments))
        throw new Error('the supergraph and _entities answered different fulfillments');
      if (!isDeepStrictEqual(viaAliases.fulfillments, viaEntities.fulfillments))
        throw new Error('the instance(...) aliases and _entities answered different fulfillments');

      const supergraphRequests = [graphqlRequest(SUPERGRAPH_QUERY)];
      const directRequests = [graphqlRequest(ENTITIES_QUERY, { representations })];
      const pids: Record<Part, number> = {
        'Hive Gateway': supergraph.child.pid,
        'orders subgraph': ordersSubgraph.child.pid,
        'this server': server.child.pid,
        emulator: emulator.child.pid,
      };
      const measure = async (what: string, origin: string, requests: typeof directRequests): Promise<Run> => {
        await emulator.resetCounts();
        let before: Record<Part, number> | undefined;
        const result = await runSustained(
          {
            origin,
            requests,
            connections: CONNECTIONS,
            overallRate: RATE,
            warmupS: WARMUP_S,
            durationS: settings.loadS,
            check: 'graphql',
          },
          { afterWarmup: async () => void (before = await readCpu(pids)) },
        );
        const after = await readCpu(pids);
        assertClean(what, result);
        if (before === undefined) throw new Error(`${what}: the load worker never paused after its warm-up`);
        const start = before;
        return {
          result,
          upstream: (await emulator.counts()).total,
          cpuS: mapParts((part) => after[part] - start[part]),
        };
      };
      const directRuns: Run[] = [];
      const supergraphRuns: Run[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const runDirect = async () =>
          directRuns.push(await measure('_entities from this server', server.origin, directRequests));
        const runSupergraph = async () =>
          supergraphRuns.push(await measure('20 orders through the supergraph', supergraph.origin, supergraphRequests));
        for (const run of round % 2 === 0 ? [runDirect, runSupergraph] : [runSupergraph, runDirect]) await run();
      }
      const direct = combine(directRuns);
      const through = combine(supergraphRuns);
      const fmt = (side: Side) =>
        `p50/p95 ${side.p50.toFixed(2)}/${side.p95.toFixed(2)} ms at ${side.rps.toFixed(1)} queries/s, ` +
        `${side.upstreamPerResponse.toFixed(2)} upstream calls per response; CPU per query ` +
        PARTS.map((part) => `${part} ${side.cpuMsPerQuery[part].toFixed(2)} ms`).join(', ');

      const callsRatio = viaSupergraph.calls / viaEntities.calls;
      const metrics: Metric[] = [
        {
          name: 'upstream calls per 20-order query',
          value: viaSupergraph.calls,
          baseline: viaEntities.calls,
          ratio: callsRatio,
          unit: 'calls',
          target: 'ratio = 1.00 (baseline: _entities with the 20 keys, straight to this server)',
          verdict: verdict(callsRatio === 1),
        },
        {
          name: 'p50 latency under load',
          value: through.p50,
          baseline: direct.p50,
          ratio: through.p50 / direct.p50,
          unit: 'ms',
          target: 'none',
          verdict: 'INFO',
        },
        {
          name: 'p95 latency under load',
          value: through.p95,
          baseline: direct.p95,
          ratio: through.p95 / direct.p95,
          unit: 'ms',
          target: 'none',
          verdict: 'INFO',
        },
        {
          name: 'added latency of the gateway hop, p50',
          value: through.p50 - direct.p50,
          unit: 'ms',
          target: 'none (reported, issue 15)',
          verdict: 'INFO',
        },
        {
          name: 'added latency of the gateway hop, p95',
          value: through.p95 - direct.p95,
          unit: 'ms',
          target: 'none (reported, issue 15)',
          verdict: 'INFO',
        },
      ];
      return {
        metrics,
        notes: [
          `${ORDERS} running ${FULFILLMENT_WORKFLOW} instances; this server is the production build in remote mode against ` +
            `the emulator at ${settings.latencyMs} ms; the orders subgraph and Hive Gateway (test/federation/*, through ` +
            'test/bench/supergraph-host.ts) run as processes of their own, the gateway composing both subgraphs at start ' +
            'and caching no responses (responseCaching is opt-in and test/federation/gateway.ts sets none); both sides ' +
            'reach the same server process, and its finished-instance cache never answers for running instances',
          `supergraph: \`${SUPERGRAPH_QUERY}\`; baseline: \`_entities\` with the ${ORDERS} WorkflowInstance keys and the ` +
            'same selection, which is what the gateway asks this server for after reading the keys from the orders ' +
            'subgraph, so the difference is the hop itself: the client to the gateway, the orders subgraph, query ' +
            'planning and merging. The three answers carry the same fulfillments (checked)',
          `upstream calls, ${COUNTED} queries one at a time per side: supergraph ${viaSupergraph.routes}; _entities ` +
            `${viaEntities.routes}; ${ORDERS} instance(...) aliases ${viaAliases.routes} (${viaAliases.calls} per query)`,
          `load: ${CONNECTIONS} connection at ${RATE} queries/s, ${WARMUP_S} s warm-up + ${settings.loadS} s per run, ` +
            `${ROUNDS} runs per side alternating; one query at a time because concurrent identical queries would be ` +
            "merged at different layers on the two sides (this server's in-flight GETs, Hive's identical subgraph requests)",
          `supergraph ${fmt(through)}`,
          `_entities ${fmt(direct)}`,
          'upstream calls per response are a little above 20 because the query in flight when a run ends has made ' +
            'its calls without counting as a response; CPU per query is user + system time of each process from ' +
            '/proc/<pid>/stat over the measured parts (after the warm-ups) per good response',
        ],
      };
    }),
};
