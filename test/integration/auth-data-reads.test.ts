import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createApiKey,
  createApiKeyAuthenticator,
  type ApiKeyAuthenticator,
  type ApiKeyEntry,
} from '../../src/auth/api-keys.js';
import { workflowAllowed, ANONYMOUS, type Principal } from '../../src/auth/principal.js';
import { InstanceStatusChangedDocument } from '../generated/operations.js';
import { subscribe, wsClient } from '../helpers/live.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// Data reached other than through a root field needs `workflows:read` on its workflow too, and rotated API keys
// close the WebSocket connections they opened (found in review of the access-control change).
const WORKFLOW = 'flaky-import';
const STATUS_OF = 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}';

let dir: string;
let keysFile: string;
let stack: Stack;
let authenticator: ApiKeyAuthenticator;
const writeOnly = createApiKey({ id: 'writer', scopes: ['workflows:write'] });
const reader = createApiKey({ id: 'reader', scopes: ['workflows:read'] });
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

async function writeKeys(entries: readonly ApiKeyEntry[]): Promise<void> {
  await writeFile(keysFile, JSON.stringify(entries));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wfgql-auth-reads-'));
  keysFile = join(dir, 'keys.json');
  await writeKeys([writeOnly.entry, reader.entry]);
  authenticator = await createApiKeyAuthenticator(keysFile);
  stack = await startStack({ authenticator, listen: true });
});
afterAll(async () => {
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a write-only credential', () => {
  it('creates an instance, but reads nothing through the payload beyond the key', async () => {
    const result = await stack.graphql<{ createInstance: Record<string, unknown> | null }>(
      `mutation { createInstance(input: { workflowName: "${WORKFLOW}", instanceId: "writer-1", params: { secret: "s3" } }) {
        __typename ... on CreateInstancePayload { instance { instanceId params } } } }`,
      {},
      auth(writeOnly.key),
    );
    // The create happened (the emulator has it) ...
    const created = (await stack.rest('GET', `/${WORKFLOW}/instances/writer-1`)) as { params?: unknown };
    expect(created.params).toEqual({ secret: 's3' });
    // ... but its params did not come back: reading them is FORBIDDEN.
    expect(JSON.stringify(result.data ?? null)).not.toContain('s3');
    expect(result.errors?.map((e) => [e.path?.join('.'), e.extensions?.['code']])).toEqual([
      ['createInstance.instance.params', 'FORBIDDEN'],
    ]);
  });

  it("cannot list the workflow's other instances through a mutation's payload", async () => {
    await stack.rest('POST', `/${WORKFLOW}/instances`, { instance_id: 'writer-2' });
    const result = await stack.graphql(
      `mutation { terminateInstance(input: { workflowName: "${WORKFLOW}", instanceId: "writer-2" }) {
        __typename ... on TerminateInstancePayload { instance { workflow { instances(first: 5) { nodes { params } } } } } } }`,
      {},
      auth(writeOnly.key),
    );
    expect(JSON.stringify(result.data ?? null)).not.toContain('params');
    expect(result.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);
  });

  it('still gets the key fields of what it changed, without an upstream read', async () => {
    stack.resetCalls();
    const result = await stack.graphql<{ pauseInstance: { __typename: string; instance?: { instanceId: string } } }>(
      `mutation { pauseInstance(input: { workflowName: "${WORKFLOW}", instanceId: "writer-1" }) {
        __typename ... on PauseInstancePayload { instance { instanceId } } ... on Error { message } } }`,
      {},
      auth(writeOnly.key),
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.pauseInstance.__typename).toBe('PauseInstancePayload');
    expect(result.data?.pauseInstance.instance?.instanceId).toBe('writer-1');
    expect(stack.upstreamCalls({ method: 'GET', route: STATUS_OF })).toBe(0);
  });
});

describe('key rotation', () => {
  it('closes the WebSocket connections of a key that is gone, and keeps the others', async () => {
    const closes: { who: string; code: number }[] = [];
    const watch = { workflowName: 'order-fulfillment', instanceId: 'order-1004' };
    const rotatedClient = wsClient(stack, (code) => closes.push({ who: 'reader', code }), auth(reader.key));
    const rotated = subscribe(rotatedClient, InstanceStatusChangedDocument, watch);
    await waitFor(() => rotated.results.length > 0, { message: "the reader's first event" });

    await writeKeys([writeOnly.entry]);
    await authenticator.reload();
    await stack.app.reauthenticate();
    await waitFor(() => closes.some((c) => c.who === 'reader'), { message: "the reader's socket to close" });
    expect(closes).toEqual([{ who: 'reader', code: 4401 }]);
    // The key is refused for new requests too.
    const refused = await fetch(stack.url ?? '', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth(reader.key) },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(refused.status).toBe(401);
  });
});

describe('single-connection SSE streams', () => {
  it('belong to the credential that reserved them: another credential presenting the token is refused', async () => {
    const other = createApiKey({ id: 'other', scopes: ['workflows:read', 'workflows:write'] });
    await writeKeys([writeOnly.entry, other.entry]);
    await authenticator.reload();
    const stream = `${(stack.url ?? '').replace(/\/graphql$/, '')}/graphql/stream`;
    const reserved = await fetch(stream, { method: 'PUT', headers: auth(writeOnly.key) });
    expect(reserved.status).toBe(201);
    const token = await reserved.text();
    expect(token).toMatch(/^[\w-]{16}\.[0-9a-f-]{36}$/);

    // Another credential with the same token: refused before the stream is touched.
    const stolen = await fetch(`${stream}?token=${encodeURIComponent(token)}`, {
      headers: { ...auth(other.key), accept: 'text/event-stream' },
    });
    expect(stolen.status).toBe(403);
    expect(((await stolen.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code).toBe(
      'FORBIDDEN',
    );
    const cancel = await fetch(`${stream}?token=${encodeURIComponent(token)}&operationId=x`, {
      method: 'DELETE',
      headers: auth(other.key),
    });
    expect(cancel.status).toBe(403);

    // Its owner opens it.
    const controller = new AbortController();
    const own = await fetch(`${stream}?token=${encodeURIComponent(token)}`, {
      headers: { ...auth(writeOnly.key), accept: 'text/event-stream' },
      signal: controller.signal,
    });
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toContain('text/event-stream');
    controller.abort();
  });
});

describe('workflow allowlists', () => {
  const principal = (workflows: string[]): Principal => ({ ...ANONYMOUS, id: 'p', mode: 'api-key', workflows });

  it('match names and * globs anywhere in a name, and nothing else', () => {
    const p = principal(['order-*', '*-report', 'a*b*c', 'exact']);
    for (const name of ['order-fulfillment', 'order-', 'nightly-report', 'abc', 'a-b-c', 'aXbYc', 'exact']) {
      expect(workflowAllowed(p, name), name).toBe(true);
    }
    for (const name of ['orders', 'xorder-1', 'report', 'nightly-reports', 'acb', 'ab', 'exact2', 'Order-1']) {
      expect(workflowAllowed(p, name), name).toBe(false);
    }
  });
});
