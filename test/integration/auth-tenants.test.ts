import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createCloudflareTokenAuthenticator } from '../../src/auth/cloudflare-token.js';
import type { Logger } from '../../src/logger.js';
import {
  TenantInstanceDocument as INSTANCE,
  TenantInstanceListDocument as LIST,
  TenantInstanceStatusChangedDocument as STATUS,
  TenantNodeDocument as NODE,
  WriteCreateInstanceDocument as CREATE,
  WritePauseInstanceDocument as PAUSE,
  WriteResumeInstanceDocument as RESUME,
  WriteTerminateInstanceDocument as TERMINATE,
} from '../generated/operations.js';
import { expectData, expectTypename } from '../helpers/graphql.js';
import { subscribe, wsClient, type CollectedSubscription } from '../helpers/live.js';
import { startStack, type GraphQLResult, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// Issue 11, AUTH_MODE=cloudflare-token: each client brings its own Cloudflare token and account id, Cloudflare (here
// the emulator, src/emulator/access.ts) decides what it may do, and every cache, loader and poll loop is keyed by the
// credential (src/context.ts), so two tenants never see each other's data.

const ACCOUNT_A = 'a'.repeat(32);
const ACCOUNT_B = 'b'.repeat(32);
const TOKEN_A = 'tenant-a-cloudflare-token-000000000000000';
const TOKEN_B = 'tenant-b-cloudflare-token-000000000000000';
/** Reads account A only: a write is Cloudflare's 403. */
const TOKEN_A_READ_ONLY = 'tenant-a-read-only-token-0000000000000000';
/** In no table: Cloudflare's 401. */
const TOKEN_UNKNOWN = 'unknown-cloudflare-token-0000000000000000';
/**
 * The server's own token, set in its config but not in the emulator's table: any request made with it would be a 401
 * in the emulator's log. In this mode the server must never use it.
 */
const SERVER_TOKEN = 'server-own-token-never-valid-upstream-0000';
const TOKENS = [TOKEN_A, TOKEN_B, TOKEN_A_READ_ONLY, TOKEN_UNKNOWN, SERVER_TOKEN];

const WORKFLOW = 'order-fulfillment';
/** Ten minutes between polls: every event a test waits for comes from a mutation's push, never from a later poll. */
const POLL_MS = 600_000;

interface Tenant {
  readonly name: 'A' | 'B';
  readonly token: string;
  readonly accountId: string;
}
const A: Tenant = { name: 'A', token: TOKEN_A, accountId: ACCOUNT_A };
const B: Tenant = { name: 'B', token: TOKEN_B, accountId: ACCOUNT_B };

/** What each tenant's instance of a shared id carries: its own tenant's name, so a crossed answer shows. */
const paramsOf = (tenant: Tenant, instanceId: string) => ({
  orderId: instanceId,
  customer: `buyer@tenant-${tenant.name.toLowerCase()}.example`,
  tenant: tenant.name,
});
const tenantOf = (params: unknown): unknown => (params as { tenant?: unknown } | null)?.tenant;

const headersOf = (token: string, accountId: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
  'x-cloudflare-account-id': accountId,
});

/**
 * Every response body and log line of this file, for the last test: no token may appear in any of them. Bodies are
 * the JSON texts as received; log lines are each call's arguments, before the logger's own redaction (src/logger.ts).
 */
const seenBodies: string[] = [];
const seenLogLines: string[] = [];

function capturingLogger(): Logger {
  const write = (...args: unknown[]) => {
    seenLogLines.push(
      args
        .map((a) => (a instanceof Error ? (a.stack ?? a.message) : typeof a === 'string' ? a : safeJson(a)))
        .join(' '),
    );
  };
  return { debug: write, info: write, warn: write, error: write };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

async function tenantStack(): Promise<Stack> {
  return startStack({
    emulator: {
      tokens: {
        [TOKEN_A]: { accounts: [ACCOUNT_A], write: true },
        [TOKEN_B]: { accounts: [ACCOUNT_B], write: true },
        [TOKEN_A_READ_ONLY]: { accounts: [ACCOUNT_A], write: false },
      },
    },
    // No default account: every client names its own.
    authenticator: createCloudflareTokenAuthenticator(''),
    config: {
      auth: { mode: 'cloudflare-token' },
      upstream: { apiToken: SERVER_TOKEN, accountId: ACCOUNT_A },
      pollIntervalMs: POLL_MS,
      finishedInstanceTtlMs: POLL_MS,
    },
    listen: true,
    logger: capturingLogger(),
  });
}

/** One operation with a client's credential, through the stack; its body is kept for the leak check. */
async function run<TResult, TVariables>(
  stack: Stack,
  credential: { token: string; accountId: string },
  document: TypedDocumentNode<TResult, TVariables>,
  variables: TVariables,
): Promise<GraphQLResult<TResult>> {
  const result = (await stack.graphql(
    print(document),
    variables as Record<string, unknown>,
    headersOf(credential.token, credential.accountId),
  )) as GraphQLResult<TResult>;
  seenBodies.push(JSON.stringify(result));
  return result;
}

async function createFor(stack: Stack, tenant: Tenant, instanceId: string): Promise<void> {
  const input = { workflowName: WORKFLOW, instanceId, params: paramsOf(tenant, instanceId) };
  const created = expectData(await run(stack, tenant, CREATE, { input })).createInstance;
  expect(expectTypename(created, 'CreateInstancePayload').instance?.instanceId).toBe(instanceId);
}

/** A tenant's graphql-ws subscription to the instance's status, with its credential in `connection_init`. */
function watch(stack: Stack, tenant: Tenant, instanceId: string) {
  const client = wsClient(stack, undefined, headersOf(tenant.token, tenant.accountId));
  return subscribe(client, STATUS, { workflowName: WORKFLOW, instanceId });
}

type StatusEvent = CollectedSubscription<{
  instanceStatusChanged: { status: string; instance: { params: unknown } };
}>;
const statusesOf = (sub: StatusEvent) => sub.results.map((r) => r.data?.instanceStatusChanged.status ?? 'error');
/** Results that are errors, or carry another tenant's params. */
const crossedOrFailed = (sub: StatusEvent, tenant: Tenant) =>
  sub.results.filter((r) => tenantOf(r.data?.instanceStatusChanged.instance.params) !== tenant.name);

/** The emulator's view of an instance's status (its own record, not an answer of the gateway). */
const emulatorStatus = (stack: Stack, accountId: string, instanceId: string) =>
  stack.emulator.engine.instance(accountId, WORKFLOW, instanceId)?.status;

describe('AUTH_MODE=cloudflare-token: two tenants', () => {
  it('answers 200 interleaved queries and both tenants’ subscriptions to one instance id with zero crossed answers', async () => {
    const stack = await tenantStack();
    const id = 'shared-order-1';
    await createFor(stack, A, id);
    await createFor(stack, B, id);
    // Different statuses as well as different params: B's is paused, A's waits (the manual clock holds it there).
    expectTypename(
      expectData(await run(stack, B, PAUSE, { input: { workflowName: WORKFLOW, instanceId: id } })).pauseInstance,
      'PauseInstancePayload',
    );
    const expected = { A: 'WAITING', B: 'PAUSED' } as const;
    expect(emulatorStatus(stack, ACCOUNT_A, id)).toBe('waiting');
    expect(emulatorStatus(stack, ACCOUNT_B, id)).toBe('paused');
    const nodeId = expectData(await run(stack, A, INSTANCE, { workflowName: WORKFLOW, id })).instance?.id;
    expect(nodeId).toEqual(expect.any(String));

    // Three subscribers per tenant on the same instance id, opened while the queries below run.
    const subscribers = [A, B, A, B, A, B].map((tenant) => ({ tenant, sub: watch(stack, tenant, id) as StatusEvent }));

    /** What one answer says about whose instance it read: the tenant in its params, and the status. */
    type Seen = { readonly tenant: unknown; readonly status: string | undefined };
    const ask = async (tenant: Tenant, i: number): Promise<Seen> => {
      switch (i % 3) {
        case 0: {
          const instance = expectData(await run(stack, tenant, INSTANCE, { workflowName: WORKFLOW, id })).instance;
          return { tenant: tenantOf(instance?.params), status: instance?.status };
        }
        case 1: {
          const nodes = expectData(await run(stack, tenant, LIST, { workflowName: WORKFLOW })).workflow?.instances
            .nodes;
          const mine = nodes?.filter((n) => n.instanceId === id) ?? [];
          expect(mine).toHaveLength(1);
          return { tenant: tenantOf(mine[0]?.params), status: mine[0]?.status };
        }
        default: {
          const node = expectData(await run(stack, tenant, NODE, { id: nodeId! })).node;
          const instance = node && 'params' in node ? node : undefined;
          return { tenant: tenantOf(instance?.params), status: instance?.status };
        }
      }
    };
    // Interleaved: A and B alternate, and each kind of query goes to both tenants at once.
    const asked = Array.from({ length: 200 }, (_, i) => ({ tenant: i % 2 === 0 ? A : B, i: Math.floor(i / 2) }));
    const answers = await Promise.all(
      asked.map(async ({ tenant, i }) => ({ asker: tenant.name, seen: await ask(tenant, i) })),
    );

    expect(answers).toHaveLength(200);
    const crossed = answers.filter(({ asker, seen }) => seen.tenant !== asker || seen.status !== expected[asker]);
    expect(crossed).toEqual([]);
    expect(answers.filter((a) => a.asker === 'A')).toHaveLength(100);

    // Every subscriber hears its own tenant's instance first, and only that.
    await waitFor(() => subscribers.every(({ sub }) => sub.results.length > 0), {
      message: 'the first status event of every subscriber',
    });
    for (const { tenant, sub } of subscribers) {
      expect(statusesOf(sub)).toEqual([expected[tenant.name]]);
      expect(crossedOrFailed(sub, tenant)).toEqual([]);
    }
    // One poll loop per credential, though both watch the same workflow and instance id.
    expect(stack.app.live.stats()).toMatchObject({ loops: 2, subscribers: 6, watchedInstances: 2 });

    // A pauses its own instance: A's subscribers hear it, B's do not.
    expectTypename(
      expectData(await run(stack, A, PAUSE, { input: { workflowName: WORKFLOW, instanceId: id } })).pauseInstance,
      'PauseInstancePayload',
    );
    const ofTenant = (tenant: Tenant) => subscribers.filter((s) => s.tenant === tenant).map((s) => s.sub);
    await waitFor(() => ofTenant(A).every((sub) => sub.results.length > 1), { message: "A's PAUSED event" });
    // B then resumes its own: once B's subscribers hear that, anything of A's sent to them would have arrived first.
    expectTypename(
      expectData(await run(stack, B, RESUME, { input: { workflowName: WORKFLOW, instanceId: id } })).resumeInstance,
      'ResumeInstancePayload',
    );
    await waitFor(() => ofTenant(B).every((sub) => sub.results.length > 1), { message: "B's resume event" });

    const resumed = emulatorStatus(stack, ACCOUNT_B, id)?.toUpperCase();
    expect(resumed).not.toBe('PAUSED');
    for (const sub of ofTenant(A)) expect(statusesOf(sub)).toEqual(['WAITING', 'PAUSED']);
    for (const sub of ofTenant(B)) expect(statusesOf(sub)).toEqual(['PAUSED', resumed]);
    for (const { tenant, sub } of subscribers) expect(crossedOrFailed(sub, tenant)).toEqual([]);
    expect(emulatorStatus(stack, ACCOUNT_A, id)).toBe('paused');
    for (const { sub } of subscribers) seenBodies.push(JSON.stringify(sub.results));

    // Every upstream request went to one of the tenants' accounts, with a token the emulator accepted.
    const entries = stack.emulator.requests.entries;
    expect(entries.filter((e) => e.status !== 200)).toEqual([]);
    expect(new Set(entries.map((e) => e.accountId))).toEqual(new Set([ACCOUNT_A, ACCOUNT_B]));
  });

  it("never serves one tenant's cached finished instance to the other", async () => {
    const stack = await tenantStack();
    const id = 'cached-order-1';
    await createFor(stack, A, id);
    await createFor(stack, B, id);
    expectTypename(
      expectData(await run(stack, A, TERMINATE, { input: { workflowName: WORKFLOW, instanceId: id } }))
        .terminateInstance,
      'TerminateInstancePayload',
    );
    const read = async (tenant: Tenant) =>
      expectData(await run(stack, tenant, INSTANCE, { workflowName: WORKFLOW, id })).instance;

    expect(await read(A)).toMatchObject({ status: 'TERMINATED', params: paramsOf(A, id) });
    // A's finished instance is now cached (FINISHED_INSTANCE_TTL_MS): A reads it again without an upstream call ...
    stack.resetCalls();
    expect(await read(A)).toMatchObject({ status: 'TERMINATED', params: paramsOf(A, id) });
    expect(stack.upstreamCalls()).toBe(0);

    // ... while B, asking for the same workflow and instance id, reads its own instance from upstream.
    expect(await read(B)).toMatchObject({ status: 'WAITING', params: paramsOf(B, id) });
    expect(stack.upstreamCalls({ method: 'GET' })).toBeGreaterThan(0);
    expect(stack.emulator.requests.entries.map((e) => e.accountId)).toEqual(
      stack.emulator.requests.entries.map(() => ACCOUNT_B),
    );
  });
});

describe('AUTH_MODE=cloudflare-token: Cloudflare enforces permissions', () => {
  it('answers UNAUTHENTICATED on the field for a token Cloudflare does not know', async () => {
    const stack = await tenantStack();
    const result = await run(stack, { token: TOKEN_UNKNOWN, accountId: ACCOUNT_A }, INSTANCE, {
      workflowName: WORKFLOW,
      id: 'order-1004',
    });
    expect(result.data).toEqual({ instance: null });
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]).toMatchObject({ path: ['instance'], extensions: { code: 'UNAUTHENTICATED' } });
    // The gateway only checked the token's shape; Cloudflare refused it.
    expect(stack.emulator.requests.entries.map((e) => e.status)).toEqual([401]);
  });

  it('lets a read-only token query, and answers its mutation with ForbiddenError without changing the instance', async () => {
    const stack = await tenantStack();
    const readOnly = { token: TOKEN_A_READ_ONLY, accountId: ACCOUNT_A };
    const id = 'read-only-order-1';
    await createFor(stack, A, id);

    const instance = expectData(await run(stack, readOnly, INSTANCE, { workflowName: WORKFLOW, id })).instance;
    expect(instance).toMatchObject({ instanceId: id, status: 'WAITING', params: paramsOf(A, id) });

    stack.resetCalls();
    const paused = expectData(
      await run(stack, readOnly, PAUSE, { input: { workflowName: WORKFLOW, instanceId: id } }),
    ).pauseInstance;
    expect(expectTypename(paused, 'ForbiddenError').message).toMatch(/refused this Cloudflare token/);
    expect(emulatorStatus(stack, ACCOUNT_A, id)).toBe('waiting');
    // Cloudflare refused the one write it was sent; nothing was retried.
    expect(stack.emulator.requests.entries.map((e) => [e.method, e.status])).toEqual([['PATCH', 403]]);
  });

  it('answers FORBIDDEN on the field for a token used on an account it has no access to', async () => {
    const stack = await tenantStack();
    // B's account exists (seeded) before A's token reaches for it.
    await stack.emulator.engine.ensureAccount(ACCOUNT_B);
    const before = emulatorStatus(stack, ACCOUNT_B, 'order-1004');
    expect(before).toBeDefined();
    const foreign = { token: TOKEN_A, accountId: ACCOUNT_B };
    const result = await run(stack, foreign, INSTANCE, { workflowName: WORKFLOW, id: 'order-1004' });
    expect(result.data).toEqual({ instance: null });
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]).toMatchObject({ path: ['instance'], extensions: { code: 'FORBIDDEN' } });
    expect(stack.emulator.requests.entries.map((e) => [e.accountId, e.status])).toEqual([[ACCOUNT_B, 403]]);

    const paused = expectData(
      await run(stack, foreign, PAUSE, { input: { workflowName: WORKFLOW, instanceId: 'order-1004' } }),
    ).pauseInstance;
    expectTypename(paused, 'ForbiddenError');
    expect(emulatorStatus(stack, ACCOUNT_B, 'order-1004')).toBe(before);
  });

  it("never sends the server's own token: every kind of operation makes zero 401s upstream", async () => {
    const stack = await tenantStack();
    // The control: the server's token is one the emulator refuses, so any request made with it is a logged 401.
    const direct = await fetch(`${stack.emulator.url}/accounts/${ACCOUNT_A}/workflows`, {
      headers: { authorization: `Bearer ${SERVER_TOKEN}` },
    });
    seenBodies.push(await direct.text());
    expect(direct.status).toBe(401);
    expect(stack.emulator.requests.entries.map((e) => e.status)).toEqual([401]);
    stack.resetCalls();

    const id = 'own-token-order-1';
    await createFor(stack, A, id);
    expectData(await run(stack, A, INSTANCE, { workflowName: WORKFLOW, id }));
    expectData(await run(stack, A, LIST, { workflowName: WORKFLOW }));
    const sub = watch(stack, A, id) as StatusEvent;
    await waitFor(() => sub.results.length > 0, { message: 'the first status event' });
    expectTypename(
      expectData(await run(stack, A, PAUSE, { input: { workflowName: WORKFLOW, instanceId: id } })).pauseInstance,
      'PauseInstancePayload',
    );
    await waitFor(() => sub.results.length > 1, { message: 'the PAUSED event' });
    seenBodies.push(JSON.stringify(sub.results));

    const statuses = stack.emulator.requests.entries.map((e) => e.status);
    expect(statuses.length).toBeGreaterThan(4);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  });
});

describe('AUTH_MODE=cloudflare-token: requests without a usable credential', () => {
  const refusals: [string, Record<string, string>][] = [
    ['a missing Authorization header', { 'x-cloudflare-account-id': ACCOUNT_A }],
    ['a malformed X-Cloudflare-Account-Id', headersOf(TOKEN_A, 'not-an-account-id')],
    ['no X-Cloudflare-Account-Id and no default account', { authorization: `Bearer ${TOKEN_A}` }],
  ];

  it.each(refusals)('answers %s over HTTP with 401 UNAUTHENTICATED and no upstream call', async (_, headers) => {
    const stack = await tenantStack();
    const response = await fetch(stack.url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: print(INSTANCE), variables: { workflowName: WORKFLOW, id: 'order-1004' } }),
    });
    const text = await response.text();
    seenBodies.push(text);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(JSON.parse(text)).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
    expect(stack.upstreamCalls()).toBe(0);
  });

  it.each(refusals)('closes a graphql-ws connection with %s with 4401 and no upstream call', async (_, params) => {
    const stack = await tenantStack();
    const closes: { code: number; reason: string }[] = [];
    const client = wsClient(stack, (code, reason) => closes.push({ code, reason }), params);
    const sub = subscribe(client, STATUS, { workflowName: WORKFLOW, instanceId: 'order-1004' });
    await waitFor(() => closes.length > 0, { message: 'the server to close the connection' });
    seenBodies.push(...closes.map((c) => c.reason));
    expect(closes.map((c) => c.code)).toEqual([4401]);
    expect(sub.results).toEqual([]);
    expect(stack.upstreamCalls()).toBe(0);
    expect(stack.app.live.stats()).toMatchObject({ loops: 0, subscribers: 0 });
  });
});

describe('AUTH_MODE=cloudflare-token: secrets', () => {
  // Runs last in this file (vitest runs a file's tests in order): it reads what the tests above collected.
  it('shows no token in any response body or log line of this file', () => {
    // What was collected must include the answers and log lines of the tests above, or this test proves nothing.
    expect(seenBodies.length).toBeGreaterThan(200);
    expect(seenBodies.some((body) => body.includes('UNAUTHENTICATED'))).toBe(true);
    expect(seenLogLines.some((line) => line.endsWith('} audit'))).toBe(true);
    for (const token of TOKENS) {
      expect(seenBodies.filter((body) => body.includes(token))).toEqual([]);
      expect(seenLogLines.filter((line) => line.includes(token))).toEqual([]);
    }
  });
});
