import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import { createRedisKeys } from '../../src/redis/keys.js';
import { launchRedisServer } from '../helpers/redis-process.js';
import { requestsPerInterval, type RequestCounts } from './counts.js';
import { assertClean, graphqlRequest, runSustained } from './load.js';
import { measureDelivery, type Delivery, type Trigger } from './delivery.js';
import {
  commandsDuring,
  describeCalls,
  meanCalls,
  scaleCalls,
  startCommandCounter,
  subtractCalls,
  totalCalls,
  type CommandCalls,
  type CommandCounter,
} from './redis-commands.js';
import { verdict, type Metric } from './report.js';
import { pauseAndMeasure, STATUS_SUBSCRIPTION } from './s4-fan-out.js';
import { QUERY as BY_ID, CONCURRENCY, UNLIMITED, WARMUP_S } from './s1-instance-by-id.js';
import type { Scenario, ScenarioOutcome } from './scenario.js';
import { scoped, type Scope } from './scope.js';
import { seedWorkflow, type Seeded } from './seed.js';
import { startEmulator, startGateway, type EmulatorProcess, type HttpProcess } from './stack.js';
import { percentile } from './stats.js';
import { combineSubscribers, startSubscribers, type Subscribers } from './subscribers.js';
import { waitFor } from './wait.js';
import { now } from './ws-spec.js';

const REPLICAS = 3;
const INSTANCES = 30;
const SUBSCRIPTIONS = 300;
const SUBSCRIPTIONS_PER_CONNECTION = 10;
/** Poll intervals in each side's counting window. */
const MEASURED_CYCLES = 8;
const LATENCY_MARGIN_MS = 300;
const KEY_PREFIX = 'bench-s7:';

/** Requests of each kind of read on the query path, sent `READ_CONCURRENCY` at a time. */
const READS = 100;
const READ_CONCURRENCY = 4;
/** Every Redis counting window lasts this long, with or without reads (these take one to three seconds)... */
const WINDOW_MS = 5000;
/**
 * ...and at least this long past the last read, for what the reads leave behind: the budget's lease given back 2 s
 * after the last one (IDLE_LEASE_RETURN_MS in src/redis/shared-budget.ts), its answers reported within 250 ms
 * (MAINTAIN_MS).
 */
const TAIL_MS = 2500;
/** Round trips per request a per-request figure cannot resolve (see `noise` below). */
const BUDGET_UPKEEP_RESOLUTION = 0.1;
/** The finished instances complete this long after they start, before the reads. */
const FINISHED_HOLD_MS = 3000;
/**
 * The replicas' FINISHED_INSTANCE_TTL_MS (default 5 s, as long as one window): long enough that the second and
 * third reads of the finished instances find what the first one kept, in the replica and in Redis.
 */
const FINISHED_TTL_MS = 120_000;

/** The same instance twice under aliases: the second answer comes from the request's loader. */
const TWICE =
  'query Twice($workflowName: String!, $id: String!) { a: instance(workflowName: $workflowName, instanceId: $id) { instanceId status params } ' +
  'b: instance(workflowName: $workflowName, instanceId: $id) { instanceId status params } }';

const RESUME =
  'mutation Resume($input: ResumeInstanceInput!) { resumeInstance(input: $input) { __typename ... on ResumeInstancePayload { status } } }';
/** Statuses that show a resume arrived. */
const RESUME_SEEN = ['QUEUED', 'RUNNING'];

interface GraphqlAnswer {
  readonly data?: Record<string, { readonly __typename?: string } | null> | null;
  readonly errors?: readonly { readonly message: string }[];
}

/** One GraphQL POST; throws unless every root field answered (no errors, no null). */
async function graphql(gateway: HttpProcess, query: string, variables: Record<string, unknown>) {
  const response = await request(`${gateway.origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.body.text();
  const answer = JSON.parse(text) as GraphqlAnswer;
  const roots = Object.values(answer.data ?? {});
  if (response.statusCode !== 200 || answer.errors !== undefined || roots.length === 0 || roots.includes(null))
    throw new Error(`GraphQL answered ${response.statusCode}: ${text.slice(0, 300)}`);
  return answer;
}

/** `query` once per id against `gateway`, `READ_CONCURRENCY` at a time. */
async function readEach(gateway: HttpProcess, query: string, seeded: Seeded): Promise<void> {
  let next = 0;
  const ids = seeded.instanceIds;
  const worker = async () => {
    for (let i = next++; i < ids.length; i = next++)
      await graphql(gateway, query, { workflowName: seeded.workflowName, id: ids[i] });
  };
  await Promise.all(Array.from({ length: READ_CONCURRENCY }, worker));
}

/** Redis commands and upstream requests of one counting window. */
interface Window {
  readonly calls: CommandCalls;
  readonly upstream: number;
  readonly requests: number;
  readonly workMs: number;
  readonly windowMs: number;
}

/** A counting window, idle or with `query` sent to `via` once for each instance of `seeded`. */
async function countWindow(
  counter: CommandCounter,
  emulator: EmulatorProcess,
  read?: { readonly via: HttpProcess; readonly query: string; readonly seeded: Seeded },
): Promise<Window> {
  await emulator.resetCounts();
  const work = read && (() => readEach(read.via, read.query, read.seeded));
  const { calls, workMs, windowMs } = await commandsDuring(counter, WINDOW_MS, work, TAIL_MS);
  const upstream = (await emulator.counts()).total;
  return { calls, upstream, requests: read?.seeded.instanceIds.length ?? 0, workMs, windowMs };
}

/**
 * A counting window around S1's sustained load (`CONCURRENCY` connections, warm-up included) of `query` on
 * `via` over the instances of `seeded`, for `loadS` seconds: the budget's time-based exchanges spread over
 * thousands of requests, as in production, rather than over 100.
 */
async function sustainedWindow(
  counter: CommandCounter,
  emulator: EmulatorProcess,
  via: HttpProcess,
  seeded: Seeded,
  loadS: number,
): Promise<Window> {
  await emulator.resetCounts();
  const requests = seeded.instanceIds.map((id) => graphqlRequest(BY_ID, { workflowName: seeded.workflowName, id }));
  let answered = 0;
  const work = async () => {
    const result = await runSustained({
      origin: via.origin,
      requests,
      connections: CONCURRENCY,
      warmupS: WARMUP_S,
      durationS: loadS,
      check: 'graphql',
    });
    assertClean('S7 sustained reads', result);
    answered = result.ok + result.warmupOk;
  };
  const { calls, workMs, windowMs } = await commandsDuring(counter, WINDOW_MS, work, TAIL_MS);
  return { calls, upstream: (await emulator.counts()).total, requests: answered, workMs, windowMs };
}

/** A side's subscriptions (the same on both): 10 per instance, spread so that every replica has some of each. */
interface Watched {
  readonly perReplica: readonly Subscribers[];
  readonly subscribeS: number;
  readonly counts: RequestCounts;
  readonly cycles: number;
  readonly windowS: number;
  readonly delivery: Delivery;
  /** Redis commands during the counting window (three replicas only). */
  readonly redisCalls?: CommandCalls;
}

async function watchAndPause(
  scope: Scope,
  emulator: EmulatorProcess,
  gateways: readonly HttpProcess[],
  seeded: Seeded,
  poll: number,
  counter?: CommandCounter,
): Promise<Watched> {
  const { workflowName, instanceIds } = seeded;
  const perReplica = gateways.map((gateway, r) => {
    // Subscription k watches instance k mod 30 on replica ⌊k / 30⌋ mod 3: each instance's 10 go 4/3/3 to the replicas.
    const subscriptions = Array.from({ length: SUBSCRIPTIONS }, (_, k) => k)
      .filter((k) => Math.floor(k / INSTANCES) % gateways.length === r)
      .map((k) => {
        const instanceId = instanceIds[k % INSTANCES] ?? '';
        return { key: instanceId, variables: { workflowName, instanceId } };
      });
    return scope.use(
      startSubscribers({
        url: `${gateway.origin.replace(/^http/, 'ws')}/graphql`,
        connections: Math.ceil(subscriptions.length / SUBSCRIPTIONS_PER_CONNECTION),
        query: STATUS_SUBSCRIPTION,
        subscriptions,
      }),
    );
  });
  const started = performance.now();
  await Promise.all(perReplica.map((subscribers) => subscribers.waitAllLive(60_000)));
  const subscribeS = (performance.now() - started) / 1000;

  // A fixed window of whole poll cycles: the measurement itself, not a wait for a state.
  await emulator.resetCounts();
  const windowStart = performance.now();
  const windowMs = MEASURED_CYCLES * poll;
  const redisCalls = counter === undefined ? await delay(windowMs) : (await commandsDuring(counter, windowMs)).calls;
  const counts = await emulator.counts();
  const windowS = (performance.now() - windowStart) / 1000;

  const delivery = await pauseAndMeasure(
    emulator.url,
    workflowName,
    instanceIds,
    combineSubscribers(perReplica),
    SUBSCRIPTIONS,
    poll,
  );
  return {
    perReplica,
    subscribeS,
    counts,
    cycles: (windowS * 1000) / poll,
    windowS,
    delivery,
    ...(redisCalls === undefined ? {} : { redisCalls }),
  };
}

/**
 * Resumes every paused (or pausing) instance through `resumeInstance` on replica `via`, spread over two poll intervals, and
 * measures when the subscribers in `on` (another replica's) see it. A shortfall is returned as undelivered.
 */
async function resumeAndMeasure(
  via: HttpProcess,
  on: Subscribers,
  seeded: Seeded,
  poll: number,
): Promise<{ delivery: Delivery; expected: number }> {
  const triggers = new Map<string, Trigger>();
  const since = now();
  const spacingMs = (2 * poll) / seeded.instanceIds.length;
  await Promise.all(
    seeded.instanceIds.map(async (instanceId, i) => {
      await delay(i * spacingMs);
      triggers.set(instanceId, { sentAt: now(), statuses: new Set(RESUME_SEEN) });
      const answer = await graphql(via, RESUME, { input: { workflowName: seeded.workflowName, instanceId } });
      const typename = answer.data?.resumeInstance?.__typename;
      if (typename !== 'ResumeInstancePayload') throw new Error(`resumeInstance answered ${typename ?? 'nothing'}`);
    }),
  );
  const expected = Object.values((await on.report()).events).reduce((n, lists) => n + lists.length, 0);
  await waitFor(
    'every subscriber on replica B to see its resume',
    async () => ((await on.status({ statuses: RESUME_SEEN, since })).seen === expected ? true : undefined),
    { timeoutMs: 3 * poll + 10_000, intervalMs: 100 },
  ).catch(() => undefined);
  return { delivery: measureDelivery(await on.report(), triggers), expected };
}

const p = (values: readonly number[], q: number) => percentile(values, q);
const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : String(value));

export const s7: Scenario = {
  id: 's7',
  title: 'scale-out',
  run: (settings) =>
    scoped(async (scope): Promise<ScenarioOutcome> => {
      const poll = settings.pollIntervalMs;
      const emulator = scope.use(await startEmulator({ latencyMs: settings.latencyMs }));
      // Seeded first, so that they have finished by the time they are read.
      const finished = await seedWorkflow(emulator, 'bench-s7-finished', READS, () => FINISHED_HOLD_MS);
      const running = await seedWorkflow(emulator, 'bench-s7-reads', READS);
      const forOne = await seedWorkflow(emulator, 'bench-s7-one', INSTANCES);
      const forThree = await seedWorkflow(emulator, 'bench-s7-three', INSTANCES);
      const gatewayOptions = { upstreamUrl: emulator.url, rateLimit: UNLIMITED, pollIntervalMs: poll };

      // One replica, as one process runs today: no Redis.
      const alone = scope.use(await startGateway(gatewayOptions));
      const one = await watchAndPause(scope, emulator, [alone], forOne, poll);
      await Promise.all([...one.perReplica.map((s) => s.stop()), alone.stop()]);

      const server = await launchRedisServer();
      scope.use({ stop: () => server.dispose() });
      // The orchestrator's children die with it (children.ts); redis-server is not one of them.
      const killServer = () => {
        if (server.pid !== undefined) process.kill(server.pid, 'SIGKILL');
      };
      process.once('exit', killServer);
      scope.use({ stop: async () => void process.off('exit', killServer) });
      const redis = server.client();
      const counter = await startCommandCounter(server.port);
      scope.use({ stop: async () => counter.stop() });
      const env = {
        REDIS_URL: server.url,
        REDIS_KEY_PREFIX: KEY_PREFIX,
        FINISHED_INSTANCE_TTL_MS: String(FINISHED_TTL_MS),
      };
      // One after the other: three node processes starting at once on a busy 2-core machine can miss the start timeout.
      const replicas: HttpProcess[] = [];
      for (let r = 0; r < REPLICAS; r++) replicas.push(scope.use(await startGateway({ ...gatewayOptions, env })));
      const [a, b] = replicas as [HttpProcess, HttpProcess, HttpProcess];
      await waitFor(
        'every replica to register in Redis',
        async () => ((await redis.zcard(createRedisKeys(KEY_PREFIX).replicas())) === REPLICAS ? true : undefined),
        { timeoutMs: 10_000, intervalMs: 50 },
      );

      // Redis round trips on the query path. The first reads of a replica load its scripts and join the shared
      // budget: a window of its own, reported apart. Idle windows before and after give the background.
      await emulator.waitForStatus({ ...finished, statuses: ['complete'], timeoutMs: 30_000 });
      const warmIds = { ...running, instanceIds: running.instanceIds.slice(0, READ_CONCURRENCY) };
      const warm = await countWindow(counter, emulator, { via: a, query: BY_ID, seeded: warmIds });
      const idleBefore = await countWindow(counter, emulator);
      const byId = await countWindow(counter, emulator, { via: a, query: BY_ID, seeded: running });
      const twice = await countWindow(counter, emulator, { via: a, query: TWICE, seeded: running });
      const finishedCold = await countWindow(counter, emulator, { via: a, query: TWICE, seeded: finished });
      const finishedAgain = await countWindow(counter, emulator, { via: a, query: TWICE, seeded: finished });
      const finishedOnB = await countWindow(counter, emulator, { via: b, query: TWICE, seeded: finished });
      const idleAfter = await countWindow(counter, emulator);
      const idle = [idleBefore, idleAfter];
      const backgroundPerMs = scaleCalls(
        meanCalls(idle.map((w) => w.calls)),
        2 / (idleBefore.windowMs + idleAfter.windowMs),
      );
      const net = (w: Window) => subtractCalls(w.calls, scaleCalls(backgroundPerMs, w.windowMs));
      const perRequest = (w: Window) => totalCalls(net(w)) / w.requests;
      /**
       * The resolution of a per-request figure: budget exchanges (EVALSHA) follow time, not requests (answers are
       * reported every 250 ms while reads go on), 12 to 19 per 100 reads of the same kind in trial runs; and two idle
       * windows may differ.
       */
      const noise = Math.max(
        BUDGET_UPKEEP_RESOLUTION,
        Math.abs(totalCalls(idleBefore.calls) - totalCalls(idleAfter.calls)) / READS,
      );
      const perUpstream = (w: Window) => totalCalls(net(w)) / w.upstream;
      const describe = (what: string, w: Window) =>
        `${what}: ${w.requests} requests in ${fixed(w.workMs)} ms (window ${fixed(w.windowMs)} ms), ${w.upstream} upstream requests, Redis round trips ` +
        `(net of the background) ${describeCalls(net(w))}`;

      const three = await watchAndPause(scope, emulator, replicas, forThree, poll, counter);
      const countsAfterWatch = await emulator.counts();
      await emulator.waitForStatus({ ...forThree, statuses: ['waitingForPause', 'paused'], timeoutMs: 30_000 });
      const onB = three.perReplica[1];
      if (onB === undefined) throw new Error('no subscribers on replica B');
      const pushed = await resumeAndMeasure(a, onB, forThree, poll);
      // Last, once the subscribers are gone: in four trial runs with this load before the subscriptions, those on
      // three replicas went live after 7.4 and 6.5 s, and twice not within 60 s (about 2 s without it; the cause
      // was not found, and the machine was busy too). What the subscriptions leave behind in Redis (loops released,
      // interest expiring) counts against this window: the background subtracted is the idle one measured before.
      await Promise.all(three.perReplica.map((subscribers) => subscribers.stop()));
      const sustained = await sustainedWindow(counter, emulator, a, running, settings.loadS);

      const perCycle = (w: Watched) => requestsPerInterval(w.counts, poll);
      const perMinute = (w: Watched) => (perCycle(w) * 60_000) / poll;
      const ratio = perCycle(three) / perCycle(one);
      const latencyTarget = poll + LATENCY_MARGIN_MS;
      const p95 = (d: Delivery) => p(d.latenciesMs, 95);
      const received = (d: Delivery) => d.subscriptions - d.undelivered;
      const metrics: Metric[] = [
        {
          name: `upstream requests per poll cycle, ${REPLICAS} replicas vs 1`,
          value: perCycle(three),
          baseline: perCycle(one),
          ratio,
          unit: 'req',
          target: 'ratio <= 1.1',
          verdict: verdict(ratio <= 1.1),
        },
        {
          name: `status change delivery p95, ${REPLICAS} replicas`,
          value: p95(three.delivery),
          baseline: p95(one.delivery),
          unit: 'ms',
          target: `<= poll interval + ${LATENCY_MARGIN_MS} ms (${latencyTarget} ms)`,
          verdict: verdict(three.delivery.undelivered === 0 && p95(three.delivery) <= latencyTarget),
        },
        {
          name: `subscribers that received the change, ${REPLICAS} replicas`,
          value: received(three.delivery),
          baseline: three.delivery.subscriptions,
          ratio: received(three.delivery) / three.delivery.subscriptions,
          unit: '',
          target: 'all',
          verdict: verdict(three.delivery.undelivered === 0 && three.delivery.subscriptions === SUBSCRIPTIONS),
        },
        {
          name: `budget used: upstream requests per minute, ${REPLICAS} replicas vs 1`,
          value: perMinute(three),
          baseline: perMinute(one),
          ratio: perMinute(three) / perMinute(one),
          unit: 'req',
          target: 'none (baseline: one replica)',
          verdict: 'INFO',
        },
        {
          name: 'mutation on replica A to a subscriber on replica B, p50',
          value: p(pushed.delivery.latenciesMs, 50),
          unit: 'ms',
          target: 'none',
          verdict: 'INFO',
        },
        {
          name: 'mutation on replica A to a subscriber on replica B, p95',
          value: p(pushed.delivery.latenciesMs, 95),
          unit: 'ms',
          target: 'none',
          verdict: 'INFO',
        },
        {
          name: 'Redis round trips per upstream call, instance by id (S1 query)',
          value: perUpstream(byId),
          unit: '',
          target: '<= 1',
          verdict: verdict(perUpstream(byId) <= 1),
        },
        {
          name: `Redis round trips per upstream call, instance by id under S1's sustained load (${CONCURRENCY} connections)`,
          value: perUpstream(sustained),
          baseline: sustained.upstream,
          unit: '',
          target: '<= 1 (baseline column: upstream calls)',
          verdict: verdict(perUpstream(sustained) <= 1),
        },
        {
          name: 'extra Redis round trips per request, the same instance twice under aliases',
          value: perRequest(twice) - perRequest(byId),
          unit: '',
          target: `0 (second answer from the request's loader; resolution ±${fixed(noise, 2)})`,
          verdict: verdict(perRequest(twice) - perRequest(byId) <= noise && twice.upstream === byId.upstream),
        },
        {
          name: 'Redis round trips per upstream call, a finished instance twice under aliases, first read',
          value: perUpstream(finishedCold),
          unit: '',
          target: '<= 1',
          verdict: verdict(perUpstream(finishedCold) <= 1),
        },
        {
          name: 'Redis round trips per request, the same finished instances read again on the same replica',
          value: perRequest(finishedAgain),
          unit: '',
          target: `0 (no upstream call; resolution ±${fixed(noise, 2)})`,
          verdict: verdict(perRequest(finishedAgain) <= noise && finishedAgain.upstream === 0),
        },
        {
          name: 'Redis round trips per request, the same finished instances read on replica B',
          value: perRequest(finishedOnB),
          baseline: finishedOnB.upstream,
          unit: '',
          target: 'none (shared cache: Redis instead of upstream; baseline column: upstream calls)',
          verdict: 'INFO',
        },
      ];

      const side = (what: string, w: Watched) =>
        `${what}: ${w.counts.total} upstream requests (${w.counts.instanceLists} lists, ${w.counts.instanceGets} ` +
        `instance GETs) in ${fixed(w.cycles, 1)} poll intervals; all subscriptions live after ${fixed(w.subscribeS, 1)} s; ` +
        `delivery p50 ${fixed(p(w.delivery.latenciesMs, 50))} ms, first subscriber per instance p95 ` +
        `${fixed(p(w.delivery.firstMs, 95))} ms, ${w.delivery.undelivered} undelivered`;
      return {
        metrics,
        notes: [
          `${SUBSCRIPTIONS} instanceStatusChanged subscriptions ({ status previousStatus }) on ${INSTANCES} running ` +
            `instances of one workflow, ${SUBSCRIPTIONS_PER_CONNECTION} per WebSocket connection; ${REPLICAS} replicas ` +
            `(gateway processes with REDIS_URL to one redis-server on a loopback port, REDIS_KEY_PREFIX=${KEY_PREFIX}) ` +
            `with 100 each, each instance's 10 subscribers spread 4/3/3 over them, vs one gateway without Redis with all ` +
            `${SUBSCRIPTIONS} (the same subscriptions, another workflow of the same shape); poll interval ${poll} ms, ` +
            `upstream latency ${settings.latencyMs} ms, one emulator for both`,
          `upstream requests per poll cycle: the requests the emulator answered during a window of ${MEASURED_CYCLES} ` +
            `poll intervals with all subscriptions live and nothing changing, as (requests - 1) over the time from the ` +
            `first to the last in poll intervals (a plain count holds 8 or 9 polls by the window's phase alone: ` +
            `±12 %); per minute: that rate times 60 s / poll interval`,
          side('one replica', one),
          side(`${REPLICAS} replicas`, three) +
            `; Redis round trips in the window: ${fixed(totalCalls(three.redisCalls ?? new Map()) / three.windowS, 1)}/s ` +
            `(${describeCalls(three.redisCalls ?? new Map())})`,
          `delivery: the ${INSTANCES} instances paused through the emulator REST API behind the gateways' backs, spread ` +
            `over two poll intervals (S4's method); latency = first event showing WAITING_FOR_PAUSE or PAUSED minus the ` +
            `moment the PATCH was sent, for each of the ${SUBSCRIPTIONS} subscribers`,
          `mutation across replicas: once all were pausing or paused, resumeInstance on replica A for each instance, spread over ` +
            `two poll intervals; latency = first QUEUED or RUNNING event at replica B's ${pushed.expected} subscribers ` +
            `minus the moment the mutation was sent (${pushed.delivery.undelivered} undelivered; a figure near half an ` +
            `interval would mean the poll, not the mutation's news, delivered it)`,
          `emulator 429s: ${countsAfterWatch.rateLimited} (budgets set far above what the run spends)`,
          `Redis round trips: the commands every client sent, counted from MONITOR (commands run inside a script, ` +
            `shown with the source lua, left out; on the query path the gateway sends neither pipelines nor MULTI, so one command is one ` +
            `round trip), over windows of ${WINDOW_MS} ms (longer when the reads end less than ${TAIL_MS} ms before) on the ` +
            `${REPLICAS} replicas before any subscription; the ` +
            `replicas' FINISHED_INSTANCE_TTL_MS raised to ${FINISHED_TTL_MS / 1000} s (default 5 s) so that the later reads ` +
            `find what the first kept; reads on replica A (B for the last), ${READS} requests per ` +
            `kind, ${READ_CONCURRENCY} at a time; net = window minus the background, the mean rate of an idle window before and after times the window's length ` +
            `(${describeCalls(idleBefore.calls)} / ${describeCalls(idleAfter.calls)}: heartbeats and budget upkeep); ` +
            `the per-request resolution is their difference over ${READS} requests, at least ${BUDGET_UPKEEP_RESOLUTION} (budget exchanges follow time, not requests)`,
          describe(`warm-up, ${READ_CONCURRENCY} first reads (scripts loaded, shared budget joined)`, warm),
          describe('instance by id (running instances)', byId),
          describe('same running instance twice under aliases', twice),
          describe('finished instance twice under aliases, first read', finishedCold),
          describe('finished instance twice under aliases, again on A', finishedAgain),
          describe('finished instance twice under aliases, on B', finishedOnB),
          describe(
            `instance by id (running instances), S1's load: ${CONCURRENCY} connections, ${WARMUP_S} s warm-up + ${settings.loadS} s, all counted`,
            sustained,
          ),
        ],
      };
    }),
};
