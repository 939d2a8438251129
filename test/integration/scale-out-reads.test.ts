import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEmulator, type Emulator } from '../../src/emulator/server.js';
import { createRedisKeys } from '../../src/redis/keys.js';
import {
  CacheRestartInstanceDocument as RESTART_ONLY,
  CachedInstanceTerminalDocument as TERMINAL,
  InstanceStatusListDocument as LIST,
  ThreeInstanceStatusesDocument as THREE,
  WriteRestartInstanceDocument as RESTART,
} from '../generated/operations.js';
import { startFakeUpstream } from '../helpers/fake-upstream.js';
import { expectData, expectTypename } from '../helpers/graphql.js';
import { startRedisMonitor } from '../helpers/redis-monitor.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { graphqlAt, startReplicas, stopReplicas, type Replica } from '../helpers/replicas.js';
import { emulatorSetup } from '../helpers/emulator-setup.js';
import { eventually, waitFor } from '../helpers/wait.js';

// Issue 14: replicas share finished instances' details per credential through Redis (src/redis/shared-finished.ts).
// A read asks Redis once per loader batch, only for instances some replica announced it stored, and never for what
// the operation already holds; a mutation on one replica makes every other one forget its copy. Apps in this process, one real redis-server, one real emulator
// (manual clock: instances move only when told to).

const WORKFLOW = 'order-fulfillment';
const ACCOUNT = 'ef'.repeat(16);
/** The test's own setup calls use another token than the gateways. */
const SETUP_TOKEN = 'scale-out-reads-setup-token';
/** Far longer than any test: a copy that goes away was forgotten, not expired. */
const TTL_MS = 600_000;

let redis: RedisServer;
let emulator: Emulator;

beforeAll(async () => {
  [redis, emulator] = await Promise.all([startRedisServer(), createEmulator({ clock: 'manual' })]);
});

// Each test's replicas stop with it: those of earlier tests would otherwise keep polling, and take every pub/sub
// connection drop a test makes as their own.
afterEach(stopReplicas);

afterAll(async () => {
  await stopReplicas();
  await emulator?.stop();
  await redis?.dispose();
});

/**
 * Replicas sharing Redis under a prefix of their own, with one credential: one per upstream base URL (the emulator,
 * or a proxy in front of it).
 */
async function replicas(upstreams: readonly string[]) {
  const keyPrefix = `t${randomBytes(4).toString('hex')}:`;
  const apiToken = `reads-${randomBytes(12).toString('hex')}`;
  const started = (
    await Promise.all(
      upstreams.map((baseUrl) =>
        startReplicas(1, {
          finishedInstanceTtlMs: TTL_MS,
          upstream: { baseUrl, accountId: ACCOUNT, apiToken },
          redis: { url: redis.url, keyPrefix },
        }),
      ),
    )
  ).flat();
  const keys = createRedisKeys(keyPrefix);
  const credentialKey = started[0]!.app.upstream.default.credential.key;
  return {
    replicas: started,
    keyPrefix,
    /** The Redis key of an instance's shared details. */
    finishedKey: (id: string) => keys.finished(credentialKey, WORKFLOW, id),
    /** Resolves once `replica` would ask Redis for each instance: it heard the announcement of their details. */
    announcedTo: (replica: Replica, ids: readonly string[]) =>
      waitFor(() => ids.every((id) => replica.app.scaleOut!.finished.indexed(credentialKey, WORKFLOW, id)), {
        message: `the announcement of ${ids.length} stored details`,
      }),
  };
}

/** The emulator's REST API with the setup token, behind the gateways' backs. */
const setup = () => emulatorSetup(emulator, ACCOUNT, SETUP_TOKEN);

/** Instances created behind the gateways' backs, waiting at their first sleep (the clock is manual). */
async function waitingInstances(count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `reads-${randomBytes(4).toString('hex')}-${i}`);
  await setup().createInstances(WORKFLOW, ids);
  return ids;
}

/** Instances created and terminated behind the gateways' backs. */
async function terminatedInstances(count: number): Promise<string[]> {
  const ids = await waitingInstances(count);
  await setup().terminate(WORKFLOW, ids);
  for (const id of ids) await emulator.engine.waitForStatus(ACCOUNT, WORKFLOW, id, 'terminated');
  return ids;
}

/** Upstream reads of one instance's details so far (either replica: they share the credential). */
const detailReads = (ids: readonly string[]) =>
  emulator.requests.entries.filter(
    (entry) => entry.method === 'GET' && ids.some((id) => entry.path.endsWith(`/instances/${id}`)),
  ).length;

/** The emulator's status of an instance, as the schema spells it. */
const upstreamStatus = (id: string) =>
  emulator.engine
    .instance(ACCOUNT, WORKFLOW, id)!
    .status.replace(/[A-Z]/g, (c) => `_${c}`)
    .toUpperCase();

/**
 * The commands one replica's Redis connection sends while `run` runs, as MONITOR on the real redis-server reports
 * them (lower-case name, then arguments). A marker command (ECHO) from that connection before and after bounds
 * the window: Redis reports one connection's commands in order.
 */
async function commandsDuring(replica: Replica, run: () => Promise<void>): Promise<string[][]> {
  const client = replica.app.scaleOut!.connection.client;
  const info = String(await client.call('CLIENT', 'INFO'));
  const address = /\baddr=(\S+)/.exec(info)![1]!;
  const seen: string[][] = [];
  const monitor = await startRedisMonitor(redis.port, ({ args, source }) => {
    if (source === address) seen.push([args[0]!.toLowerCase(), ...args.slice(1)]);
  });
  try {
    const marker = (name: string) => seen.findIndex(([command, text]) => command === 'echo' && text === name);
    const start = `start-${randomBytes(4).toString('hex')}`;
    const end = `end-${randomBytes(4).toString('hex')}`;
    await client.echo(start);
    await waitFor(() => marker(start) >= 0, { message: 'the start marker on MONITOR' });
    await run();
    await client.echo(end);
    await waitFor(() => marker(end) >= 0, { message: 'the end marker on MONITOR' });
    return seen.slice(marker(start) + 1, marker(end));
  } finally {
    monitor.stop();
  }
}

/**
 * Of `commands`, those about shared finished instances: their details and their index (heartbeats and budget leases
 * run on timers of their own).
 */
const aboutFinished = (commands: readonly string[][], keyPrefix: string) =>
  commands.filter((args) => args.slice(1).some((arg) => arg.startsWith(`${keyPrefix}finished`)));

/**
 * A replica's first operation for a credential reads which shared details Redis holds (stored before it served the
 * credential): run one first, so that a counted window holds only what its reads send.
 */
async function firstOperation(replica: Replica): Promise<void> {
  const [id] = (await waitingInstances(1)) as [string];
  expect(expectData(await graphqlAt(replica, TERMINAL, { workflowName: WORKFLOW, id })).instance?.status).toBe(
    'WAITING',
  );
}

describe('reads of finished instances shared through Redis', () => {
  it('asks Redis once for a batch of instances another replica fetched, and never for what the operation holds', async () => {
    const { replicas: started, keyPrefix, finishedKey, announcedTo } = await replicas([emulator.url, emulator.url]);
    const [a, b] = started as [Replica, Replica];
    await firstOperation(b);
    const ids = await terminatedInstances(3);
    const variables = { workflowName: WORKFLOW, a: ids[0]!, b: ids[1]!, c: ids[2]! };
    const statuses = (data: {
      a: { status: string } | null;
      b: { status: string } | null;
      c: { status: string } | null;
    }) => [data.a?.status, data.b?.status, data.c?.status];

    // A fetches the three upstream and shares them, in one round trip.
    const before = detailReads(ids);
    const shared = redis.client();
    const stored = await commandsDuring(a, async () => {
      expect(statuses(expectData(await graphqlAt(a, THREE, variables)))).toEqual([
        'TERMINATED',
        'TERMINATED',
        'TERMINATED',
      ]);
      await eventually(async () => (await shared.exists(...ids.map(finishedKey))) === 3, {
        message: 'the three shared in Redis',
      });
    });
    expect(detailReads(ids) - before).toBe(3);
    // (A's first operation for the credential also reads the index: a script naming no details key.)
    const stores = stored.filter((args) => ids.some((id) => args.includes(finishedKey(id))));
    // One script run, for all three: on the script's first use on this Redis, EVALSHA answers NOSCRIPT and EVAL
    // (src/redis/script.ts) runs it.
    expect([['evalsha'], ['evalsha', 'eval']]).toContainEqual(stores.map(([command]) => command));
    expect(stores.at(-1)).toEqual(expect.arrayContaining(ids.map(finishedKey)));
    await announcedTo(b, ids);

    // B: one MGET for the batch, no upstream read.
    const fetched = detailReads(ids);
    const batch = await commandsDuring(b, async () => {
      expect(statuses(expectData(await graphqlAt(b, THREE, variables)))).toEqual([
        'TERMINATED',
        'TERMINATED',
        'TERMINATED',
      ]);
    });
    expect(aboutFinished(batch, keyPrefix)).toEqual([['mget', ...ids.map(finishedKey)]]);
    expect(detailReads(ids)).toBe(fetched);

    // Again on B: its own copies answer, with no Redis command and no upstream read.
    const again = await commandsDuring(b, async () => {
      expect(statuses(expectData(await graphqlAt(b, THREE, variables)))).toEqual([
        'TERMINATED',
        'TERMINATED',
        'TERMINATED',
      ]);
    });
    expect(aboutFinished(again, keyPrefix)).toEqual([]);

    // A list whose rows answer every field: served from the operation's loaders, with no Redis command about them.
    const listed = await commandsDuring(b, async () => {
      const nodes = expectData(await graphqlAt(b, LIST, { workflowName: WORKFLOW, first: 100 })).workflow!.instances
        .nodes;
      for (const id of ids) expect(nodes.find((node) => node.instanceId === id)?.status).toBe('TERMINATED');
    });
    expect(aboutFinished(listed, keyPrefix)).toEqual([]);
    expect(detailReads(ids)).toBe(fetched);
  });

  it('asks Redis nothing before the upstream read of an instance no replica stored, and one MGET for one A stored', async () => {
    const { replicas: started, keyPrefix, finishedKey, announcedTo } = await replicas([emulator.url, emulator.url]);
    const [a, b] = started as [Replica, Replica];
    await firstOperation(b);
    const [running] = (await waitingInstances(1)) as [string];
    const [done] = (await terminatedInstances(1)) as [string];
    const status = async (replica: Replica, id: string) =>
      expectData(await graphqlAt(replica, TERMINAL, { workflowName: WORKFLOW, id })).instance?.status;

    // A running instance on B: upstream read, no Redis command about finished instances before or after it.
    const runningReads = detailReads([running]);
    const whileRunning = await commandsDuring(b, async () => {
      expect(await status(b, running)).toBe('WAITING');
    });
    expect(aboutFinished(whileRunning, keyPrefix)).toEqual([]);
    expect(detailReads([running])).toBe(runningReads + 1);

    // A finished instance A read and stored: B asks Redis with one MGET and reads nothing upstream.
    expect(await status(a, done)).toBe('TERMINATED');
    await announcedTo(b, [done]);
    const doneReads = detailReads([done]);
    const whileShared = await commandsDuring(b, async () => {
      expect(await status(b, done)).toBe('TERMINATED');
    });
    expect(aboutFinished(whileShared, keyPrefix)).toEqual([['mget', finishedKey(done)]]);
    expect(detailReads([done])).toBe(doneReads);
  });

  it('serves the new status on every replica once one replica restarts a finished instance, long before the TTL', async () => {
    const { replicas: started, finishedKey } = await replicas([emulator.url, emulator.url, emulator.url]);
    const [a, b, c] = started as [Replica, Replica, Replica];
    const [id] = (await terminatedInstances(1)) as [string];
    const variables = { workflowName: WORKFLOW, id };
    const status = async (replica: Replica) =>
      expectData(await graphqlAt(replica, TERMINAL, variables)).instance?.status;

    // B reads it: kept in B's memory and in Redis.
    expect(await status(b)).toBe('TERMINATED');
    const shared = redis.client();
    await eventually(async () => (await shared.exists(finishedKey(id))) === 1, {
      message: 'the details shared in Redis',
    });
    const reads = detailReads([id]);
    expect(await status(b)).toBe('TERMINATED');
    expect(detailReads([id]), 'the second read came from the cache').toBe(reads);

    // A restarts it; the emulator runs it to its first sleep.
    const restarted = expectData(await graphqlAt(a, RESTART, { input: { workflowName: WORKFLOW, instanceId: id } }));
    expectTypename(restarted.restartInstance, 'RestartInstancePayload');
    await emulator.engine.waitForStatus(ACCOUNT, WORKFLOW, id, 'waiting');
    const now = upstreamStatus(id);
    expect(now).toBe('WAITING');

    // The shared copy is gone: C, which never held one, reads the new status at once.
    await eventually(async () => (await shared.exists(finishedKey(id))) === 0, { message: 'the shared copy deleted' });
    expect(await status(c)).toBe(now);
    // B forgets its own copy when A's message arrives (a TTL of ten minutes would keep it much longer).
    let last: string | undefined;
    await eventually(async () => (last = await status(b)) !== 'TERMINATED', {
      message: 'B to stop serving TERMINATED',
      timeoutMs: 2_000,
    });
    expect(last).toBe(now);
  });

  it('keeps no details whose upstream read crossed a restart, neither in memory nor in Redis', async () => {
    const [id] = (await terminatedInstances(1)) as [string];
    // B reaches the emulator through a loopback proxy that holds B's first read of the instance (already answered
    // by the emulator: TERMINATED) until the test releases it.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    const origin = new URL(emulator.url).origin;
    const proxy = await startFakeUpstream((req, res) => {
      const hold = !holding && req.method === 'GET' && new URL(req.url, origin).pathname.endsWith(`/instances/${id}`);
      if (hold) holding = true;
      void (async () => {
        const answer = await fetch(origin + req.url, {
          method: req.method,
          headers: { authorization: req.headers.authorization ?? '', 'content-type': 'application/json' },
          ...(req.body === '' ? {} : { body: req.body }),
        });
        const text = await answer.text();
        if (hold) await released;
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(text);
      })();
    });
    const { replicas: started, finishedKey } = await replicas([proxy.url, emulator.url]);
    const [b, c] = started as [Replica, Replica];
    const variables = { workflowName: WORKFLOW, id };
    const status = async (replica: Replica) =>
      expectData(await graphqlAt(replica, TERMINAL, variables)).instance?.status;

    const crossing = graphqlAt(b, TERMINAL, variables);
    await waitFor(() => holding, { message: "B's read held by the proxy" });
    // Restarted through B, without reading it back (a read of the same URL would join the held one).
    const restarted = expectData(
      await graphqlAt(b, RESTART_ONLY, { input: { workflowName: WORKFLOW, instanceId: id } }),
    );
    expect(restarted.restartInstance.__typename).toBe('RestartInstancePayload');
    await emulator.engine.waitForStatus(ACCOUNT, WORKFLOW, id, 'waiting');
    release();
    // The read that crossed the restart answers what upstream said when it was asked.
    expect(expectData(await crossing).instance?.status).toBe('TERMINATED');

    // Kept nowhere: B and C both read the current status.
    const now = upstreamStatus(id);
    expect(now).toBe('WAITING');
    expect(await status(b)).toBe(now);
    expect(await status(c)).toBe(now);
    expect(await redis.client().exists(finishedKey(id))).toBe(0);
  });
});

describe('finished instances after Redis was unreachable', () => {
  it('a restart made while Redis was down is seen on every replica once it is back', async () => {
    const { replicas: started } = await replicas([emulator.url, emulator.url]);
    const [a, b] = started as [Replica, Replica];
    const [id] = (await terminatedInstances(1)) as [string];
    const variables = { workflowName: WORKFLOW, id };
    const status = async (replica: Replica) =>
      expectData(await graphqlAt(replica, TERMINAL, variables)).instance?.status;
    expect(await status(b)).toBe('TERMINATED');

    await redis.stop();
    await waitFor(() => started.every((replica) => replica.app.scaleOut!.connection.status() === 'down'), {
      message: 'both replicas to see Redis down',
    });
    const restarted = expectData(
      await graphqlAt(a, RESTART_ONLY, { input: { workflowName: WORKFLOW, instanceId: id } }),
    );
    expect(restarted.restartInstance.__typename).toBe('RestartInstancePayload');
    await emulator.engine.waitForStatus(ACCOUNT, WORKFLOW, id, 'waiting');
    await redis.restart();

    const now = upstreamStatus(id);
    let last: string | undefined;
    await eventually(async () => (last = await status(b)) === now, { message: `B to read ${now}`, timeoutMs: 8_000 });
    expect(last).toBe(now);
  });

  it('a replica whose subscription was away reads the keys stored meanwhile from the index, not upstream', async () => {
    const { replicas: started, keyPrefix, finishedKey, announcedTo } = await replicas([emulator.url, emulator.url]);
    const [a, b] = started as [Replica, Replica];
    await firstOperation(b);
    const [id] = (await terminatedInstances(1)) as [string];
    const variables = { workflowName: WORKFLOW, id };
    const status = async (replica: Replica) =>
      expectData(await graphqlAt(replica, TERMINAL, variables)).instance?.status;
    const admin = redis.client();

    // Only B's subscriber connection goes, and cannot come back while Redis wants a password: A's announcement of
    // the details it stores meanwhile never reaches B.
    const subscriber = b.app.scaleOut!.connection.subscriber();
    const port = subscriber.stream.localPort;
    await admin.config('SET', 'requirepass', `pw-${randomBytes(8).toString('hex')}`);
    try {
      await admin.call('CLIENT', 'KILL', 'ADDR', `127.0.0.1:${port}`);
      await waitFor(() => subscriber.status !== 'ready', { message: "B's subscriber connection to close" });
      expect(await status(a)).toBe('TERMINATED');
      await eventually(async () => (await admin.exists(finishedKey(id))) === 1, {
        message: 'the details shared in Redis',
      });
    } finally {
      await admin.config('SET', 'requirepass', '');
    }

    // Subscribed again, B reads which keys Redis holds from the credential's index.
    await announcedTo(b, [id]);
    const reads = detailReads([id]);
    const commands = await commandsDuring(b, async () => {
      expect(await status(b)).toBe('TERMINATED');
    });
    expect(aboutFinished(commands, keyPrefix)).toEqual([['mget', finishedKey(id)]]);
    expect(detailReads([id])).toBe(reads);
  });

  it('a replica cut off from Redis sends its deletes once it reaches Redis again', async () => {
    const { replicas: started, finishedKey } = await replicas([emulator.url, emulator.url]);
    const [a, b] = started as [Replica, Replica];
    const [id] = (await terminatedInstances(1)) as [string];
    const variables = { workflowName: WORKFLOW, id };
    const status = async (replica: Replica) =>
      expectData(await graphqlAt(replica, TERMINAL, variables)).instance?.status;
    expect(await status(b)).toBe('TERMINATED');
    const admin = redis.client();
    await eventually(async () => (await admin.exists(finishedKey(id))) === 1, {
      message: 'the details shared in Redis',
    });

    // Only A's command connection goes: it cannot come back while Redis wants a password (connections already
    // open, B's among them, stay authenticated).
    const connection = a.app.scaleOut!.connection;
    const clientId = Number(await connection.client.call('CLIENT', 'ID'));
    await admin.config('SET', 'requirepass', `pw-${randomBytes(8).toString('hex')}`);
    try {
      await admin.call('CLIENT', 'KILL', 'ID', String(clientId));
      await waitFor(() => connection.status() === 'down', { message: 'A to see Redis down' });
      const restarted = expectData(
        await graphqlAt(a, RESTART_ONLY, { input: { workflowName: WORKFLOW, instanceId: id } }),
      );
      expect(restarted.restartInstance.__typename).toBe('RestartInstancePayload');
      await emulator.engine.waitForStatus(ACCOUNT, WORKFLOW, id, 'waiting');
    } finally {
      await admin.config('SET', 'requirepass', '');
    }
    await waitFor(() => connection.status() === 'up', { message: 'A to reach Redis again' });

    const now = upstreamStatus(id);
    await eventually(async () => (await admin.exists(finishedKey(id))) === 0, { message: 'the shared copy deleted' });
    let last: string | undefined;
    await eventually(async () => (last = await status(b)) === now, { message: `B to read ${now}` });
    expect(last).toBe(now);
  });
});
