import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApiKey, createApiKeyAuthenticator, type ApiKeyEntry } from '../../src/auth/api-keys.js';
import { createJwtAuthenticator } from '../../src/auth/jwt.js';
import type { Authenticator, Scope } from '../../src/auth/principal.js';
import type { JwtConfig } from '../../src/config.js';
import type { Logger } from '../../src/logger.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Access control at the public boundary (issue 11, "Tests that must exist"): real HTTP (POST, GET), SSE and
 * graphql-ws clients against a gateway on loopback in front of the emulator, in `api-key` and `jwt` modes.
 */

const ISSUER = 'https://issuer.example';
const AUDIENCE = 'workflows-graphql';
const JWT_SECRET = `jwt-secret-${randomBytes(24).toString('hex')}`;
/** The gateway's own Cloudflare token (the emulator accepts it): it must never reach a client or a log. */
const UPSTREAM_TOKEN = `cf-token-${randomBytes(24).toString('hex')}`;
const BOTH: readonly Scope[] = ['workflows:read', 'workflows:write'];
const ORDER = 'order-fulfillment';
/** Seeded by the emulator (src/emulator/README.md, "Demo data"): complete, so a subscription to it ends at once. */
const FINISHED_ORDER = 'order-1001';
/** Seeded `waiting` for an event: every status-changing mutation applies to it. */
const WAITING_ORDER = 'order-1004';

// ---------------------------------------------------------------------------------------------------------------
// Everything a client received and everything the gateway logged, for the "secrets never appear" test.

const seen: string[] = [];
/** Every credential and secret of this file: none may appear in `seen`. */
const secrets = new Set<string>([JWT_SECRET, UPSTREAM_TOKEN]);

/**
 * Records every log call at every level as `LEVEL <arguments>`, whatever LOG_LEVEL says, before any redaction of the
 * logger's (src/logger.ts): the server must not even hand a secret to its logger.
 */
const logLines: string[] = [];
const capturingLogger: Logger = Object.fromEntries(
  (['debug', 'info', 'warn', 'error'] as const).map((level) => [
    level,
    (...args: unknown[]) => {
      const line = `${level.toUpperCase()} ${args
        .map((a) => (a instanceof Error ? (a.stack ?? a.message) : typeof a === 'string' ? a : safeJson(a)))
        .join(' ')}`;
      logLines.push(line);
      seen.push(line);
    },
  ]),
) as unknown as Logger;

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Credentials: API keys in a temporary API_KEYS_FILE, JWTs from a JWKS server on loopback or an HMAC secret.

let dir: string;
let keysFile: string;
const keys: Record<string, string> = {};
const entries: ApiKeyEntry[] = [];

function addKey(id: string, scopes: readonly Scope[], workflows?: readonly string[]): void {
  const { key, entry } = createApiKey({ id, scopes, ...(workflows ? { workflows } : {}) });
  keys[id] = key;
  entries.push(entry);
  secrets.add(key);
}

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
let signingKey: KeyPair;
let strangerKey: KeyPair;
let jwksUrl: string;
let closeJwks: () => Promise<void>;

const nowS = () => Math.floor(Date.now() / 1000);

async function signJwt(
  key: KeyPair | 'secret',
  claims: JWTPayload = {},
  alg = key === 'secret' ? 'HS256' : 'RS256',
): Promise<string> {
  const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', exp: nowS() + 3600, scope: BOTH.join(' '), ...claims };
  const jwt = await new SignJWT(payload)
    .setProtectedHeader({ alg, ...(key === 'secret' ? {} : { kid: 'rsa-1' }) })
    .sign(key === 'secret' ? new TextEncoder().encode(JWT_SECRET) : key.privateKey);
  secrets.add(jwt);
  return jwt;
}

const jwtConfig = (overrides: Partial<JwtConfig> = {}): JwtConfig => ({
  key: { kind: 'jwks', url: jwksUrl },
  issuer: ISSUER,
  audience: AUDIENCE,
  algorithms: ['RS256'],
  scopesClaim: 'scope',
  workflowsClaim: undefined,
  ...overrides,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auth-modes-'));
  keysFile = join(dir, 'api-keys.json');
  addKey('admin', BOTH);
  addKey('reader', ['workflows:read']);
  addKey('writer-only', ['workflows:write']);
  addKey('orders', BOTH, ['order-*']);
  await writeFile(keysFile, JSON.stringify(entries));

  [signingKey, strangerKey] = await Promise.all([generateKeyPair('RS256'), generateKeyPair('RS256')]);
  const jwk = { ...(await exportJWK(signingKey.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' };
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  closeJwks = () => new Promise<void>((resolve) => server.close(() => resolve()));
});

afterAll(async () => {
  await closeJwks?.();
  await rm(dir, { recursive: true, force: true });
});

async function authStack(authenticator: Authenticator): Promise<Stack> {
  return startStack({
    authenticator,
    logger: capturingLogger,
    listen: true,
    emulator: { apiToken: UPSTREAM_TOKEN },
    config: { pollIntervalMs: 50, upstream: { apiToken: UPSTREAM_TOKEN } },
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Clients: each records what it received in `seen`.

const bearer = (credential: string) => ({ authorization: `Bearer ${credential}` });

interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: unknown }[] };
}

async function answerOf(response: Response): Promise<HttpAnswer> {
  const text = await response.text();
  seen.push(text);
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as HttpAnswer['body'] };
}

function post(
  stack: Stack,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<HttpAnswer> {
  return fetch(stack.url!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  }).then(answerOf);
}

function get(stack: Stack, query: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return fetch(`${stack.url!}?query=${encodeURIComponent(query)}`, {
    headers: { accept: 'application/graphql-response+json', ...headers },
  }).then(answerOf);
}

const STATUS_SUBSCRIPTION = `subscription ($w: String!, $i: String!) {
  instanceStatusChanged(workflowName: $w, instanceId: $i) { status }
}`;

/** An SSE subscription in graphql-sse's distinct-connections mode; resolves once the stream ends. */
async function sse(
  url: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query: STATUS_SUBSCRIPTION, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  seen.push(text);
  return { status: response.status, headers: response.headers, text };
}

interface WsConnection {
  readonly client: Client;
  readonly connected: () => boolean;
  /** The close code the server sent, once it did. */
  readonly closeCode: () => number | undefined;
  readonly closedAt: () => number | undefined;
}

const wsClients: Client[] = [];
afterEach(async () => {
  await Promise.all(wsClients.splice(0).map((client) => client.dispose()));
});

/** A graphql-ws connection opened at once (not lazily) with `params` as its `connection_init` payload. */
function connect(stack: Stack, params?: Record<string, unknown>): WsConnection {
  let connected = false;
  let code: number | undefined;
  let closedAt: number | undefined;
  const client = createClient({
    url: stack.url!.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    ...(params ? { connectionParams: params } : {}),
    onNonLazyError: () => undefined,
    on: {
      connected: () => (connected = true),
      message: (message) => seen.push(JSON.stringify(message)),
      closed: (event) => {
        const { code: closeCode, reason } = event as { code: number; reason: string };
        seen.push(`close ${closeCode} ${reason}`);
        code = closeCode;
        closedAt = Date.now();
      },
    },
  });
  wsClients.push(client);
  return { client, connected: () => connected, closeCode: () => code, closedAt: () => closedAt };
}

interface Collected {
  readonly results: { data?: Record<string, unknown> | null; errors?: readonly { extensions?: unknown }[] }[];
  done: boolean;
  error: unknown;
}

function collect(client: Client, query: string, variables: Record<string, unknown>): Collected {
  const sub: Collected = { results: [], done: false, error: undefined };
  client.subscribe(
    { query, variables },
    {
      next: (result) => void sub.results.push(result as Collected['results'][number]),
      error: (error) => {
        sub.error = error;
        sub.done = true;
      },
      complete: () => void (sub.done = true),
    },
  );
  return sub;
}

const READ_QUERY = `{ workflow(name: "${ORDER}") { name } }`;

function expectUnauthenticated(answer: HttpAnswer): void {
  expect(answer.status).toBe(401);
  expect(answer.headers.get('www-authenticate')).toBe('Bearer');
  expect(answer.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
  expect(answer.body.data).toBeUndefined();
}

/** Waits until no subscription's poll loop is left, so that later upstream call counts are exact. */
async function quiet(stack: Stack): Promise<void> {
  await waitFor(() => stack.app.live.stats().loops === 0, { message: 'every poll loop to stop' });
  stack.resetCalls();
}

// ---------------------------------------------------------------------------------------------------------------

interface ModeCase {
  readonly name: string;
  authenticator(): Promise<Authenticator>;
  good(): Promise<string>;
  /** Credentials the mode refuses, each with what is wrong with it. */
  bad(): Promise<Record<string, string>>;
}

const MODES: readonly ModeCase[] = [
  {
    name: 'api-key',
    authenticator: () => createApiKeyAuthenticator(keysFile),
    good: async () => keys.admin!,
    bad: async () => {
      const unknown = createApiKey({ id: 'unknown', scopes: BOTH }).key;
      secrets.add(unknown);
      // The digest of a listed key, sent as if it were the key: the file's content is not a credential.
      return { 'an unknown key': unknown, "a listed key's sha256": entries[0]!.sha256 };
    },
  },
  {
    name: 'jwt (JWKS on loopback)',
    authenticator: () => createJwtAuthenticator(jwtConfig()),
    good: () => signJwt(signingKey),
    bad: async () => ({
      'a JWT signed by a key outside the JWKS': await signJwt(strangerKey),
      'an expired JWT': await signJwt(signingKey, { exp: nowS() - 3600 }),
      'a JWT for another audience': await signJwt(signingKey, { aud: 'someone-else' }),
    }),
  },
  {
    name: 'jwt (JWT_SECRET, HS256)',
    authenticator: () =>
      createJwtAuthenticator(jwtConfig({ key: { kind: 'secret', secret: JWT_SECRET }, algorithms: ['HS256'] })),
    good: () => signJwt('secret'),
    bad: async () => ({
      'a JWT signed with another secret': await new SignJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'x', exp: nowS() + 60 })
        .setProtectedHeader({ alg: 'HS256' })
        .sign(new TextEncoder().encode(`other-${JWT_SECRET}`))
        .then((jwt) => (secrets.add(jwt), jwt)),
      'an RS256 JWT': await signJwt(signingKey),
    }),
  },
];

describe.each(MODES)('AUTH_MODE=$name end to end', (mode) => {
  let stack: Stack;
  let good: string;
  let bad: Record<string, string>;
  beforeAll(async () => {
    stack = await authStack(await mode.authenticator());
    good = await mode.good();
    bad = await mode.bad();
  });
  afterAll(() => stack.stop());

  /** No credential, a credential without the Bearer scheme, and each bad credential of the mode. */
  const refused = (): Record<string, Record<string, string>> => ({
    'no credential': {},
    'the Basic scheme': { authorization: `Basic ${Buffer.from(`u:${good}`).toString('base64')}` },
    ...Object.fromEntries(Object.entries(bad).map(([what, credential]) => [what, bearer(credential)])),
  });

  it('HTTP POST: refuses a missing or bad credential with 401 and no upstream call; answers a good one', async () => {
    for (const [what, headers] of Object.entries(refused())) {
      await quiet(stack);
      const answer = await post(stack, READ_QUERY, {}, headers);
      expect(answer.status, what).toBe(401);
      expectUnauthenticated(answer);
      // A mutation is refused just the same, and nothing reached the emulator.
      expectUnauthenticated(
        await post(
          stack,
          'mutation ($input: TerminateInstanceInput!) { terminateInstance(input: $input) { __typename } }',
          { input: { workflowName: ORDER, instanceId: WAITING_ORDER } },
          headers,
        ),
      );
      expect(stack.upstreamCalls(), what).toBe(0);
    }
    const answer = await post(stack, READ_QUERY, {}, bearer(good));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: { workflow: { name: ORDER } } });
    expect(stack.upstreamCalls()).toBeGreaterThan(0);
  });

  it('HTTP GET: refuses a missing or bad credential with 401 and no upstream call; answers a good one', async () => {
    for (const [what, headers] of Object.entries(refused())) {
      await quiet(stack);
      const answer = await get(stack, READ_QUERY, headers);
      expect(answer.status, what).toBe(401);
      expectUnauthenticated(answer);
      expect(stack.upstreamCalls(), what).toBe(0);
    }
    const answer = await get(stack, READ_QUERY, bearer(good));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ data: { workflow: { name: ORDER } } });
  });

  it('SSE (Accept: text/event-stream, on /graphql and /graphql/stream): 401 without a good credential, events with one', async () => {
    const variables = { w: ORDER, i: FINISHED_ORDER };
    for (const url of [stack.url!, `${stack.url!}/stream`]) {
      for (const [what, headers] of Object.entries(refused())) {
        await quiet(stack);
        const answer = await sse(url, variables, headers);
        expect(answer.status, `${what} at ${url}`).toBe(401);
        expect(answer.headers.get('www-authenticate')).toBe('Bearer');
        expect(JSON.parse(answer.text)).toMatchObject({ errors: [{ extensions: { code: 'UNAUTHENTICATED' } }] });
        expect(stack.upstreamCalls(), what).toBe(0);
      }
      const answer = await sse(url, variables, bearer(good));
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(answer.text).toContain('"status":"COMPLETE"');
      expect(answer.text).toMatch(/^event: complete$/m);
    }
  });

  it('graphql-ws: closes with 4401 on a missing or bad credential, before any upstream call', async () => {
    const cases: Record<string, Record<string, unknown> | undefined> = {
      'no connection_init payload': undefined,
      'an empty payload': {},
      'a credential that is not a string': { authorization: 42 },
      ...Object.fromEntries(Object.entries(bad).map(([what, credential]) => [what, bearer(credential)])),
    };
    for (const [what, params] of Object.entries(cases)) {
      await quiet(stack);
      const connection = connect(stack, params);
      const sub = collect(connection.client, STATUS_SUBSCRIPTION, { w: ORDER, i: FINISHED_ORDER });
      await waitFor(() => connection.closeCode() !== undefined && sub.done, { message: `the close (${what})` });
      expect(connection.closeCode(), what).toBe(4401);
      expect(connection.connected(), what).toBe(false);
      expect(sub.results, what).toEqual([]);
      expect(stack.upstreamCalls(), what).toBe(0);
    }
  });

  it.each([
    ['authorization', 'the documented connection_init payload'],
    ['Authorization', "GraphiQL's subscription path: its headers editor's content, capitalised"],
  ])('graphql-ws: a good credential as { %s: "Bearer …" } (%s) subscribes', async (name) => {
    const connection = connect(stack, { [name]: `Bearer ${good}` });
    const sub = collect(connection.client, STATUS_SUBSCRIPTION, { w: ORDER, i: FINISHED_ORDER });
    await waitFor(() => sub.done, { message: 'the subscription to complete' });
    expect(sub.error).toBeUndefined();
    expect(sub.results).toEqual([{ data: { instanceStatusChanged: { status: 'COMPLETE' } } }]);
    expect(connection.closeCode()).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('scopes and workflow allowlists (AUTH_MODE=api-key)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await authStack(await createApiKeyAuthenticator(keysFile));
  });
  afterAll(() => stack.stop());

  const as = (id: string) => bearer(keys[id]!);
  const TERMINATE = `mutation ($input: TerminateInstanceInput!) {
    terminateInstance(input: $input) {
      __typename
      ... on ForbiddenError { message requiredScope workflowName }
      ... on TerminateInstancePayload { instance { status } }
    }
  }`;
  const statusOf = async (workflow: string, id: string) =>
    (await stack.rest<{ status: string }>('GET', `/${workflow}/instances/${id}`)).status;
  // The audit line is `logger.info({ ...fields }, 'audit')` (src/context.ts), captured as `INFO <fields> audit`; its
  // request id is test/integration/logs.test.ts' subject.
  const auditLines = () => logLines.filter((line) => line.startsWith('INFO {') && line.endsWith('} audit'));
  const auditOf = (line: string) => JSON.parse(line.slice('INFO '.length, -' audit'.length)) as Record<string, unknown>;

  it('a workflows:read key cannot mutate: ForbiddenError, no upstream call, the instance unchanged, one audit line', async () => {
    const before = await statusOf(ORDER, WAITING_ORDER);
    expect(before).toBe('waiting');
    const audits = auditLines().length;
    await quiet(stack);
    const answer = await post(
      stack,
      TERMINATE,
      { input: { workflowName: ORDER, instanceId: WAITING_ORDER } },
      as('reader'),
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      data: {
        terminateInstance: {
          __typename: 'ForbiddenError',
          message: 'This credential lacks the `workflows:write` scope this operation needs.',
          requiredScope: 'workflows:write',
          workflowName: ORDER,
        },
      },
    });
    expect(stack.upstreamCalls()).toBe(0);
    expect(await statusOf(ORDER, WAITING_ORDER)).toBe(before);
    const lines = auditLines().slice(audits);
    expect(lines).toHaveLength(1);
    expect(auditOf(lines[0]!)).toEqual({
      requestId: expect.any(String),
      principal: 'reader',
      authMode: 'api-key',
      action: 'terminateInstance',
      workflowName: ORDER,
      instanceId: WAITING_ORDER,
      outcome: 'ForbiddenError',
    });
  });

  it('an allowed mutation runs and writes one audit line naming the key, action, workflow, instance and outcome', async () => {
    const id = `audited-${process.pid}`;
    await stack.rest('POST', `/${ORDER}/instances`, { instance_id: id });
    const audits = auditLines().length;
    const answer = await post(stack, TERMINATE, { input: { workflowName: ORDER, instanceId: id } }, as('orders'));
    expect(answer.body).toEqual({
      data: { terminateInstance: { __typename: 'TerminateInstancePayload', instance: { status: 'TERMINATED' } } },
    });
    expect(await statusOf(ORDER, id)).toBe('terminated');
    const lines = auditLines().slice(audits);
    expect(lines).toHaveLength(1);
    expect(auditOf(lines[0]!)).toEqual({
      requestId: expect.any(String),
      principal: 'orders',
      authMode: 'api-key',
      action: 'terminateInstance',
      workflowName: ORDER,
      instanceId: id,
      outcome: 'ok',
    });
  });

  it('a key limited to order-* gets ForbiddenError (requiredScope null) for a flaky-import mutation, with no upstream call', async () => {
    const before = await statusOf('flaky-import', 'import-2024-01');
    await quiet(stack);
    const answer = await post(
      stack,
      'mutation ($input: RestartInstanceInput!) { restartInstance(input: $input) { __typename ... on ForbiddenError { requiredScope workflowName } } }',
      { input: { workflowName: 'flaky-import', instanceId: 'import-2024-01' } },
      as('orders'),
    );
    expect(answer.body).toEqual({
      data: { restartInstance: { __typename: 'ForbiddenError', requiredScope: null, workflowName: 'flaky-import' } },
    });
    expect(stack.upstreamCalls()).toBe(0);
    expect(await statusOf('flaky-import', 'import-2024-01')).toBe(before);
  });

  it('a key without workflows:read gets FORBIDDEN on queries, with no upstream call', async () => {
    await quiet(stack);
    const answer = await post(
      stack,
      `{ w: ${READ_QUERY.slice(2, -2)} list: workflows { totalCount } }`,
      {},
      as('writer-only'),
    );
    expect(answer.status).toBe(200);
    expect(answer.body.data).toBeNull();
    expect(answer.body.errors).toEqual([
      expect.objectContaining({
        path: ['w'],
        extensions: expect.objectContaining({ code: 'FORBIDDEN', requiredScope: 'workflows:read' }),
      }),
      expect.objectContaining({
        path: ['list'],
        extensions: expect.objectContaining({ code: 'FORBIDDEN', requiredScope: 'workflows:read' }),
      }),
    ]);
    expect(stack.upstreamCalls()).toBe(0);
  });

  describe('a key limited to order-* cannot see flaky-import anywhere', () => {
    let flakyIds: { workflow: string; instance: string; version: string };
    beforeAll(async () => {
      const answer = await post(
        stack,
        `{ workflow(name: "flaky-import") { id latestVersion { id } instance(instanceId: "import-2024-01") { id } } }`,
        {},
        as('admin'),
      );
      const workflow = (
        answer.body.data as { workflow: { id: string; latestVersion: { id: string }; instance: { id: string } } }
      ).workflow;
      flakyIds = { workflow: workflow.id, instance: workflow.instance.id, version: workflow.latestVersion.id };
    });

    it('workflows lists only order-* names, with a totalCount to match, and a search finds nothing else', async () => {
      const all = await post(stack, '{ workflows { totalCount nodes { name } } }', {}, as('admin'));
      const allNames = (all.body.data as { workflows: { nodes: { name: string }[] } }).workflows.nodes.map(
        (n) => n.name,
      );
      expect(allNames).toContain('flaky-import');
      const expected = allNames.filter((name) => name.startsWith('order-'));
      expect(expected).toEqual([ORDER]);

      const limited = await post(stack, '{ workflows { totalCount nodes { name } } }', {}, as('orders'));
      expect(limited.body).toEqual({
        data: { workflows: { totalCount: expected.length, nodes: expected.map((name) => ({ name })) } },
      });
      const search = await post(
        stack,
        '{ workflows(search: "flaky") { totalCount nodes { name } } }',
        {},
        as('orders'),
      );
      expect(search.body).toEqual({ data: { workflows: { totalCount: 0, nodes: [] } } });
    });

    it.each([
      ['workflow(name:)', '{ x: workflow(name: "flaky-import") { name } }', {}],
      [
        'instance(workflowName:, id:)',
        '{ x: instance(workflowName: "flaky-import", instanceId: "import-2024-01") { status } }',
        {},
      ],
      ['node (a workflow id)', 'query ($id: ID!) { x: node(id: $id) { id } }', { id: 'workflow' }],
      ['node (an instance id)', 'query ($id: ID!) { x: node(id: $id) { id } }', { id: 'instance' }],
      ['node (a version id)', 'query ($id: ID!) { x: node(id: $id) { id } }', { id: 'version' }],
    ] as const)('%s is FORBIDDEN, with no upstream call', async (_what, query, vars) => {
      const variables = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, flakyIds[v]]));
      await quiet(stack);
      const answer = await post(stack, query, variables, as('orders'));
      expect(answer.body.data).toEqual({ x: null });
      expect(answer.body.errors).toEqual([
        expect.objectContaining({
          path: ['x'],
          extensions: expect.objectContaining({ code: 'FORBIDDEN', workflowName: 'flaky-import' }),
        }),
      ]);
      expect(stack.upstreamCalls()).toBe(0);
    });

    it('nodes with flaky-import ids is FORBIDDEN, with no upstream call', async () => {
      await quiet(stack);
      const answer = await post(
        stack,
        'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }',
        { ids: [flakyIds.instance, flakyIds.workflow, flakyIds.version] },
        as('orders'),
      );
      expect(answer.body.data).toBeNull();
      expect(answer.body.errors).toEqual([
        expect.objectContaining({
          path: ['nodes'],
          extensions: expect.objectContaining({ code: 'FORBIDDEN', workflowName: 'flaky-import' }),
        }),
      ]);
      expect(stack.upstreamCalls()).toBe(0);
    });

    it('nodes mixing an allowed id with a flaky-import one is FORBIDDEN as a whole, and flaky-import is never read', async () => {
      // Pothos resolves `nodes` per type and fails the whole list when one load throws, so the allowed node is
      // withheld too; what matters here is that nothing of flaky-import is read or returned.
      const order = await post(
        stack,
        `{ instance(workflowName: "${ORDER}", instanceId: "${FINISHED_ORDER}") { id } }`,
        {},
        as('orders'),
      );
      const orderId = (order.body.data as { instance: { id: string } }).instance.id;
      await quiet(stack);
      const answer = await post(
        stack,
        'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }',
        { ids: [orderId, flakyIds.instance] },
        as('orders'),
      );
      expect(answer.body.data).toBeNull();
      expect(answer.body.errors?.map((e) => e.extensions)).toEqual([
        expect.objectContaining({ code: 'FORBIDDEN', workflowName: 'flaky-import' }),
      ]);
      expect(stack.emulator.requests.entries.filter((entry) => entry.path.includes('flaky-import'))).toEqual([]);
    });

    it('order-fulfillment works through the same key', async () => {
      const answer = await post(
        stack,
        `{ workflow(name: "${ORDER}") { name } instance(workflowName: "${ORDER}", instanceId: "${FINISHED_ORDER}") { status } }`,
        {},
        as('orders'),
      );
      expect(answer.body).toEqual({ data: { workflow: { name: ORDER }, instance: { status: 'COMPLETE' } } });
    });

    it.each([
      ['instanceStatusChanged', STATUS_SUBSCRIPTION, { w: 'flaky-import', i: 'import-2024-01' }],
      [
        'instanceUpdated',
        'subscription ($w: String!, $i: String!) { instanceUpdated(workflowName: $w, instanceId: $i) { status } }',
        { w: 'flaky-import', i: 'import-2024-01' },
      ],
      [
        'workflowInstancesChanged',
        'subscription ($w: String!) { workflowInstancesChanged(workflowName: $w) { status } }',
        { w: 'flaky-import' },
      ],
    ] as const)(
      'graphql-ws: %s of flaky-import is a FORBIDDEN error for that subscription; the socket stays usable',
      async (_field, query, variables) => {
        await quiet(stack);
        const connection = connect(stack, bearer(keys.orders!));
        const denied = collect(connection.client, query, variables);
        await waitFor(() => denied.done, { message: 'the refused subscription to end' });
        expect(denied.error).toBeUndefined();
        expect(denied.results).toHaveLength(1);
        expect(denied.results[0]?.errors?.[0]?.extensions).toMatchObject({
          code: 'FORBIDDEN',
          workflowName: 'flaky-import',
        });
        expect(stack.upstreamCalls()).toBe(0);

        const allowed = collect(connection.client, STATUS_SUBSCRIPTION, { w: ORDER, i: FINISHED_ORDER });
        await waitFor(() => allowed.done, { message: 'the allowed subscription to complete' });
        expect(allowed.results).toEqual([{ data: { instanceStatusChanged: { status: 'COMPLETE' } } }]);
        expect(connection.connected()).toBe(true);
        expect(connection.closeCode()).toBeUndefined();
      },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('a JWT expiring while its graphql-ws connection is open', () => {
  it('closes the connection with 4401 when exp passes', async () => {
    const stack = await authStack(await createJwtAuthenticator(jwtConfig()));
    // jose accepts an exp up to JWT_CLOCK_TOLERANCE_S (src/auth/jwt.ts) in the past, but the socket closes at
    // exp itself (principal.expiresAt, src/transport/websocket.ts), so a token with two seconds left is enough.
    const exp = nowS() + 2;
    const connection = connect(stack, bearer(await signJwt(signingKey, { exp })));
    await waitFor(() => connection.connected() || connection.closeCode() !== undefined, {
      message: 'the connection to be acknowledged',
    });
    expect(connection.connected()).toBe(true);
    // The connection serves operations while the token is valid.
    const sub = collect(connection.client, STATUS_SUBSCRIPTION, { w: ORDER, i: FINISHED_ORDER });
    await waitFor(() => sub.done, { message: 'the subscription to complete' });
    expect(sub.results).toEqual([{ data: { instanceStatusChanged: { status: 'COMPLETE' } } }]);
    expect(connection.closeCode()).toBeUndefined();

    await waitFor(() => connection.closeCode() !== undefined, { message: 'the close at exp', timeoutMs: 10_000 });
    expect(connection.closeCode()).toBe(4401);
    expect(connection.closedAt()).toBeGreaterThanOrEqual(exp * 1000);
    await stack.stop();
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('secrets', () => {
  it('no API key, JWT, JWT secret or Cloudflare token appears in any response body or log line of this file', () => {
    // Runs last in this file: it checks what the tests above collected (answers, WS messages, debug-level logs).
    expect(logLines.length).toBeGreaterThan(0);
    expect(logLines.some((line) => line.startsWith('DEBUG '))).toBe(true);
    expect(logLines.some((line) => line.startsWith('INFO {') && line.endsWith('} audit'))).toBe(true);
    expect(seen.length).toBeGreaterThan(logLines.length);
    expect(secrets.size).toBeGreaterThan(10);
    const leaks = [...secrets].flatMap((secret) =>
      seen.filter((text) => text.includes(secret)).map((text) => `${secret.slice(0, 12)}… in: ${text.slice(0, 300)}`),
    );
    expect(leaks).toEqual([]);
  });
});
