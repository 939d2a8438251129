import { generate } from '@graphql-codegen/cli';
import {
  buildSchema,
  getOperationAST,
  isEnumType,
  isInputObjectType,
  isInputType,
  isListType,
  isNonNullType,
  isRequiredInputField,
  Kind,
  parse,
  typeFromAST,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLInputType,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import type { SubscribePayload } from 'graphql-ws';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import codegen from '../../codegen.js';
import * as generated from '../generated/operations.js';
import { freshId } from '../helpers/instances.js';
import { wsClient } from '../helpers/live.js';
import { ROOT, spawnEntry } from '../helpers/process.js';
import { startStack, type GraphQLResult, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// Trusted documents over every transport, with a manifest GraphQL Code Generator's client preset writes from this
// repository's own operations (test/operations), as a frontend's build would. Refusals are checked from the
// attacker's side: a mutation sent as a document of its own must not have created its instance upstream.
const WORKFLOW = 'order-fulfillment';

/** One result of an operation, whichever transport carried it. */
type Result = GraphQLResult<Record<string, unknown>>;
/** What a client sends: a document, or the hash of one in either request shape. */
type Sent = { query?: string; documentId?: string; extensions?: Record<string, unknown> };

let directory: string;
let manifestPath: string;
/** Each operation of the manifest by name: its hash, its document (with the fragments it uses) and its definition. */
const operations = new Map<string, { hash: string; document: DocumentNode; definition: OperationDefinitionNode }>();

beforeAll(async () => {
  // From the documents and schema codegen.ts types the tests' operations with, in memory (`saveToFile` false), as a
  // frontend's `graphql-codegen` run would write it; only the manifest is kept.
  const outputs = await generate(
    {
      cwd: ROOT,
      schema: codegen.schema,
      documents: codegen.documents,
      silent: true,
      generates: {
        'generated/': { preset: 'client', presetConfig: { persistedDocuments: { hashAlgorithm: 'sha256' } } },
      },
    },
    false,
  );
  const manifest = (outputs as { filename: string; content: string }[]).find((o) =>
    o.filename.endsWith('persisted-documents.json'),
  );
  if (!manifest) throw new Error('the client preset wrote no persisted-documents.json');
  for (const [hash, text] of Object.entries(JSON.parse(manifest.content) as Record<string, string>)) {
    const document = parse(text);
    const definition = getOperationAST(document);
    if (definition?.name) operations.set(definition.name.value, { hash, document, definition });
  }
  directory = mkdtempSync(join(tmpdir(), 'trusted-documents-'));
  manifestPath = join(directory, 'persisted-documents.json');
  writeFileSync(manifestPath, manifest.content);
}, 60_000);

afterAll(() => rmSync(directory, { recursive: true, force: true }));

function hashOf(operation: string): string {
  const hash = operations.get(operation)?.hash;
  if (hash === undefined) throw new Error(`the manifest has no operation ${operation}`);
  return hash;
}

/** The APQ shape of a request by hash. */
const byHash = (operation: string): Sent => ({
  extensions: { persistedQuery: { version: 1, sha256Hash: hashOf(operation) } },
});
/** The GraphQL over HTTP draft's shape. */
const byDocumentId = (operation: string): Sent => ({ documentId: `sha256:${hashOf(operation)}` });

const UNKNOWN: Sent = { extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } };

/** A mutation no manifest holds: it would create `instanceId`. */
const ownMutation = (instanceId: string): Sent => ({
  query: `mutation { createInstance(input: { workflowName: "${WORKFLOW}", instanceId: "${instanceId}" }) { __typename } }`,
});

const codes = (result: { errors?: readonly GraphQLFormattedError[] | undefined }) =>
  (result.errors ?? []).map((e) => e.extensions?.['code']);

async function post(stack: Stack, sent: Sent, variables?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(stack.url as string, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ ...sent, variables }),
  });
  return { response, result: (await response.json()) as Result };
}

async function get(stack: Stack, sent: Sent, variables?: unknown) {
  const url = new URL(stack.url as string);
  if (sent.query !== undefined) url.searchParams.set('query', sent.query);
  if (sent.documentId !== undefined) url.searchParams.set('documentId', sent.documentId);
  if (sent.extensions !== undefined) url.searchParams.set('extensions', JSON.stringify(sent.extensions));
  if (variables !== undefined) url.searchParams.set('variables', JSON.stringify(variables));
  const response = await fetch(url, { headers: { accept: 'application/graphql-response+json' } });
  return { response, result: (await response.json()) as Result };
}

/** Every result of one operation over graphql-ws, until it completes, or the errors it was refused with. */
async function overWs(stack: Stack, sent: Sent, variables?: Record<string, unknown>, params?: Record<string, unknown>) {
  const client = wsClient(stack, undefined, params);
  const results: Result[] = [];
  // graphql-ws requires `query` to be a string: a request by hash sends an empty one.
  const payload = { query: '', ...sent, variables } as SubscribePayload;
  await new Promise<void>((resolve) => {
    client.subscribe(payload, {
      next: (result) => results.push(result as Result),
      error: (errors) => {
        results.push({ errors: errors as GraphQLFormattedError[] });
        resolve();
      },
      complete: resolve,
    });
  });
  return results;
}

/** The results of one query or mutation over graphql-sse's single-connection mode, at /graphql/stream. */
async function overSse(stack: Stack, sent: Sent, variables?: Record<string, unknown>) {
  const client = createSseClient({ url: `${stack.url as string}/stream`, singleConnection: true, retryAttempts: 0 });
  const results: Result[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      // graphql-sse's client requires `query` to be a string: a request by hash sends an empty one.
      client.subscribe({ query: '', ...sent, ...(variables ? { variables } : {}) } as never, {
        next: (result) => results.push(result as Result),
        error: reject,
        complete: resolve,
      });
    });
  } finally {
    client.dispose();
  }
  return results;
}

/**
 * The answer to an operation sent to a reserved single-connection stream, read as it comes (graphql-sse's client
 * gives a refusal's status, not its body).
 */
async function refusedOverSse(stack: Stack, sent: Sent): Promise<{ status: number; result: Result }> {
  const url = `${stack.url as string}/stream`;
  const token = await (await fetch(url, { method: 'PUT' })).text();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-graphql-event-stream-token': token },
    body: JSON.stringify({ ...sent, extensions: { ...sent.extensions, operationId: 'refused' } }),
  });
  return { status: response.status, result: (await response.json()) as Result };
}

/** Whether the emulator holds the instance: the oracle of "the mutation ran". */
async function exists(stack: Stack, instanceId: string): Promise<boolean> {
  try {
    await stack.rest('GET', `/${WORKFLOW}/instances/${instanceId}`);
    return true;
  } catch {
    return false;
  }
}

const createVariables = (instanceId: string) => ({ input: { workflowName: WORKFLOW, instanceId } });
const created = (result: Result | undefined) =>
  (result?.data?.['createInstance'] as { __typename?: string } | undefined)?.__typename;

describe('TRUSTED_DOCUMENTS_MODE=only', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      listen: true,
      config: { pollIntervalMs: 50, trustedDocuments: { mode: 'only', manifest: manifestPath } },
    });
  });
  afterAll(() => stack.stop());

  describe('HTTP POST', () => {
    it('runs a query by hash in both request shapes', async () => {
      for (const sent of [byHash('WorkflowName'), byDocumentId('WorkflowName')]) {
        const { response, result } = await post(stack, sent, { name: WORKFLOW });
        expect(response.status).toBe(200);
        expect(result).toEqual({ data: { workflow: { name: WORKFLOW } } });
      }
    });

    it('runs a mutation by hash: the instance is created', async () => {
      const id = freshId('trusted-post');
      const { result } = await post(stack, byHash('WriteCreateInstance'), createVariables(id));
      expect(created(result)).toBe('CreateInstancePayload');
      expect(await exists(stack, id)).toBe(true);
    });

    it('refuses a document of its own with PERSISTED_QUERY_ONLY: the mutation did not run', async () => {
      const id = freshId('own-post');
      const { response, result } = await post(stack, ownMutation(id));
      expect(response.status).toBe(400);
      expect(codes(result)).toEqual(['PERSISTED_QUERY_ONLY']);
      expect(result.data).toBeUndefined();
      expect(await exists(stack, id)).toBe(false);
    });

    it('refuses a document sent beside a hash, as Apollo clients register them', async () => {
      const id = freshId('own-beside-hash');
      const { result } = await post(stack, { ...ownMutation(id), ...byHash('WorkflowCount') });
      expect(codes(result)).toEqual(['PERSISTED_QUERY_ONLY']);
      expect(await exists(stack, id)).toBe(false);
    });

    it('refuses an unknown hash with PERSISTED_QUERY_NOT_FOUND, and a request naming no document with BAD_REQUEST', async () => {
      const unknown = await post(stack, UNKNOWN);
      expect(unknown.response.status).toBe(400);
      expect(codes(unknown.result)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      expect(codes((await post(stack, { documentId: 'sha256:' + 'cd'.repeat(32) })).result)).toEqual([
        'PERSISTED_QUERY_NOT_FOUND',
      ]);
      expect(codes((await post(stack, {})).result)).toEqual(['BAD_REQUEST']);
    });

    it('does not take GraphiQL’s marker for GraphiQL unless ALLOW_GRAPHIQL_DOCUMENTS is set', async () => {
      const id = freshId('own-marker');
      const { result } = await post(stack, ownMutation(id), undefined, { 'x-graphiql': 'true' });
      expect(codes(result)).toEqual(['PERSISTED_QUERY_ONLY']);
      expect(await exists(stack, id)).toBe(false);
    });
  });

  describe('HTTP GET', () => {
    it('runs a query by hash alone, in both request shapes, with an answer a cache may keep', async () => {
      for (const sent of [byHash('WorkflowName'), byDocumentId('WorkflowName')]) {
        const { response, result } = await get(stack, sent, { name: WORKFLOW });
        expect(response.status).toBe(200);
        expect(result).toEqual({ data: { workflow: { name: WORKFLOW } } });
        // Nothing forbids storing it: no `no-store`, no `private`, no Set-Cookie, and the URL names the whole request.
        expect(response.headers.get('cache-control')).toBeNull();
        expect(response.headers.get('set-cookie')).toBeNull();
      }
    });

    it('refuses a document of its own, and an unknown hash', async () => {
      const own = await get(stack, { query: '{ workflows(first: 1) { totalCount } }' });
      expect(codes(own.result)).toEqual(['PERSISTED_QUERY_ONLY']);
      expect(own.result.data).toBeUndefined();
      expect(codes((await get(stack, UNKNOWN)).result)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    });

    it('refuses a trusted mutation over GET: the instance is not created', async () => {
      const id = freshId('trusted-get');
      const { response, result } = await get(stack, byHash('WriteCreateInstance'), createVariables(id));
      expect(response.status).toBe(405);
      expect(codes(result)).toEqual(['BAD_REQUEST']);
      expect(await exists(stack, id)).toBe(false);
    });
  });

  describe('graphql-ws', () => {
    it('runs a query and a mutation by hash, in both request shapes', async () => {
      for (const sent of [byHash('WorkflowName'), byDocumentId('WorkflowName')]) {
        expect(await overWs(stack, sent, { name: WORKFLOW })).toEqual([{ data: { workflow: { name: WORKFLOW } } }]);
      }
      const id = freshId('trusted-ws');
      const [result] = await overWs(stack, byDocumentId('WriteCreateInstance'), createVariables(id));
      expect(created(result)).toBe('CreateInstancePayload');
      expect(await exists(stack, id)).toBe(true);
    });

    it('runs a subscription by hash', async () => {
      const id = freshId('trusted-ws-sub');
      await stack.rest('POST', `/${WORKFLOW}/instances`, { instance_id: id });
      const client = wsClient(stack);
      const events: Result[] = [];
      const unsubscribe = client.subscribe(
        { query: '', ...byHash('InstanceStatusChanged'), variables: { workflowName: WORKFLOW, instanceId: id } },
        { next: (r) => events.push(r as Result), error: () => undefined, complete: () => undefined },
      );
      await waitFor(() => events.length > 0, { message: 'the first event' });
      unsubscribe();
      expect(events[0]).toMatchObject({ data: { instanceStatusChanged: { instance: { instanceId: id } } } });
    });

    it('refuses a document of its own (subscriptions too): the mutation did not run', async () => {
      const id = freshId('own-ws');
      expect((await overWs(stack, ownMutation(id))).map(codes)).toEqual([['PERSISTED_QUERY_ONLY']]);
      expect(await exists(stack, id)).toBe(false);
      const subscription = `subscription { instanceStatusChanged(workflowName: "${WORKFLOW}", instanceId: "${id}") { status } }`;
      expect((await overWs(stack, { query: subscription })).map(codes)).toEqual([['PERSISTED_QUERY_ONLY']]);
      expect(stack.app.live.stats().subscribers).toBe(0);
    });

    it('refuses an unknown hash with PERSISTED_QUERY_NOT_FOUND, and GraphiQL’s marker without the flag', async () => {
      expect((await overWs(stack, UNKNOWN)).map(codes)).toEqual([['PERSISTED_QUERY_NOT_FOUND']]);
      const id = freshId('own-ws-marker');
      expect((await overWs(stack, ownMutation(id), undefined, { 'x-graphiql': 'true' })).map(codes)).toEqual([
        ['PERSISTED_QUERY_ONLY'],
      ]);
      expect(await exists(stack, id)).toBe(false);
    });
  });

  describe('SSE', () => {
    it('runs a query and a mutation by hash over graphql-sse’s single connection, in both request shapes', async () => {
      for (const sent of [byHash('WorkflowName'), byDocumentId('WorkflowName')]) {
        expect(await overSse(stack, sent, { name: WORKFLOW })).toEqual([{ data: { workflow: { name: WORKFLOW } } }]);
      }
      const id = freshId('trusted-sse');
      const [result] = await overSse(stack, byHash('WriteCreateInstance'), createVariables(id));
      expect(created(result)).toBe('CreateInstancePayload');
      expect(await exists(stack, id)).toBe(true);
    });

    it('runs a subscription by hash over a distinct connection on /graphql and on /graphql/stream', async () => {
      const id = freshId('trusted-sse-sub');
      await stack.rest('POST', `/${WORKFLOW}/instances`, { instance_id: id });
      for (const url of [stack.url as string, `${stack.url as string}/stream`]) {
        const controller = new AbortController();
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({
            ...byDocumentId('InstanceStatusChanged'),
            variables: { workflowName: WORKFLOW, instanceId: id },
          }),
          signal: controller.signal,
        });
        expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
        const first = await firstEvent(response);
        controller.abort();
        expect(first).toMatchObject({ data: { instanceStatusChanged: { instance: { instanceId: id } } } });
      }
    });

    it('refuses a document of its own: the mutation did not run', async () => {
      const id = freshId('own-sse');
      const single = await refusedOverSse(stack, ownMutation(id));
      expect(single.status).toBe(400);
      expect(codes(single.result)).toEqual(['PERSISTED_QUERY_ONLY']);
      const distinct = await fetch(stack.url as string, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify(ownMutation(id)),
      });
      expect(await distinct.text()).toContain('PERSISTED_QUERY_ONLY');
      expect(await exists(stack, id)).toBe(false);
    });

    it('refuses an unknown hash with PERSISTED_QUERY_NOT_FOUND', async () => {
      const single = await refusedOverSse(stack, UNKNOWN);
      expect(single.status).toBe(400);
      expect(codes(single.result)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
    });
  });
});

describe('every operation of the project, by hash (TRUSTED_DOCUMENTS_MODE=only)', () => {
  let stack: Stack;
  /** The instance the mutations act on, and the one the subscriptions watch (which no mutation ends). */
  const target = freshId('every-target');
  const watched = freshId('every-watched');
  beforeAll(async () => {
    stack = await startStack({
      listen: true,
      config: { pollIntervalMs: 50, trustedDocuments: { mode: 'only', manifest: manifestPath } },
    });
    for (const id of [target, watched]) await stack.rest('POST', `/${WORKFLOW}/instances`, { instance_id: id });
  });
  afterAll(() => stack.stop());

  /** Where an operation ran, or why it did not: undefined when it ran the document its hash names. */
  const problemOf = (name: string, transport: string, result: Result | undefined): string | undefined => {
    const refusals = codes(result ?? {}).filter((code) => TRUSTED_DOCUMENT_REFUSALS.has(code as string));
    if (refusals.length > 0) return `${name} over ${transport}: refused with ${refusals.join(', ')}`;
    // A result without `data` is a request error: the operation did not run (GraphQL spec, "Response").
    if (result?.data === undefined) return `${name} over ${transport}: did not run: ${JSON.stringify(result)}`;
    const { document, definition } = operations.get(name) ?? {};
    const expected = document && definition ? rootKeys(document, definition.selectionSet) : [];
    if (result.data !== null && Object.keys(result.data).sort().join() !== expected.sort().join()) {
      return `${name} over ${transport}: answered ${Object.keys(result.data).join()} instead of ${expected.join()}`;
    }
    return undefined;
  };

  it('holds every operation the project’s tests use (the documents codegen.ts generates)', () => {
    const generatedNames = Object.values(generated).flatMap((value) =>
      isDocument(value)
        ? value.definitions.flatMap((d) => (d.kind === Kind.OPERATION_DEFINITION ? [d.name?.value] : []))
        : [],
    );
    expect(generatedNames.length).toBeGreaterThan(50);
    expect([...operations.keys()].sort()).toEqual(generatedNames.sort());
  });

  it('runs every query and mutation by hash over HTTP POST, HTTP GET, graphql-ws and graphql-sse', async () => {
    const problems: (string | undefined)[] = [];
    for (const [name, { definition }] of operations) {
      if (definition.operation === 'subscription') continue;
      const variables = variablesOf(definition, target);
      problems.push(problemOf(name, 'HTTP POST', (await post(stack, byHash(name), variables)).result));
      const overGet = await get(stack, byDocumentId(name), variables);
      if (definition.operation === 'query') problems.push(problemOf(name, 'HTTP GET', overGet.result));
      // Refused as a mutation sent with GET, which only the document (so the hash resolved) tells.
      else if (overGet.response.status !== 405 || codes(overGet.result).join() !== 'BAD_REQUEST') {
        problems.push(`${name} over HTTP GET: ${overGet.response.status} ${JSON.stringify(overGet.result)}`);
      }
      problems.push(problemOf(name, 'graphql-ws', (await overWs(stack, byDocumentId(name), variables))[0]));
      const overGraphqlSse = await overSse(stack, byHash(name), variables).catch((error: unknown) => [
        { errors: [{ message: String(error) }] } as Result,
      ]);
      problems.push(problemOf(name, 'graphql-sse', overGraphqlSse[0]));
    }
    expect(problems.filter((p) => p !== undefined)).toEqual([]);
  });

  it('runs every subscription by hash over graphql-ws, SSE on /graphql and graphql-sse', async () => {
    const problems: (string | undefined)[] = [];
    const subscriptions = [...operations].filter(([, o]) => o.definition.operation === 'subscription');
    expect(subscriptions.length).toBeGreaterThan(0);
    for (const [name, { definition }] of subscriptions) {
      const variables = variablesOf(definition, watched);
      const overWebSocket = await untilRunning(definition, (push) =>
        wsClient(stack).subscribe({ query: '', ...byDocumentId(name), variables } as SubscribePayload, {
          next: (result) => push(result as Result),
          error: (errors) => push({ errors: errors as GraphQLFormattedError[] }),
          complete: () => undefined,
        }),
      );
      problems.push(problemOf(name, 'graphql-ws', overWebSocket));
      const overSseOnGraphql = await untilRunning(definition, (push) => {
        const controller = new AbortController();
        void fetch(stack.url as string, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ ...byDocumentId(name), variables }),
          signal: controller.signal,
        })
          .then(firstEvent)
          .then((event) => push(event as Result))
          // Aborted once the subscription runs, maybe before its first event.
          .catch(() => undefined);
        return () => controller.abort();
      });
      problems.push(problemOf(name, 'SSE on /graphql', overSseOnGraphql));
      const overGraphqlSse = await untilRunning(definition, (push) => {
        const client = createSseClient({
          url: `${stack.url as string}/stream`,
          singleConnection: true,
          retryAttempts: 0,
        });
        const unsubscribe = client.subscribe({ query: '', ...byHash(name), variables } as never, {
          next: (result) => push(result as Result),
          error: (error) => push({ errors: [{ message: String(error) }] }),
          complete: () => undefined,
        });
        return () => {
          unsubscribe();
          client.dispose();
        };
      });
      problems.push(problemOf(name, 'graphql-sse', overGraphqlSse));
    }
    expect(problems.filter((p) => p !== undefined)).toEqual([]);
  });

  /**
   * Starts a subscription and waits for its first result, or, for one that reports only later changes, until it
   * answers or runs (the live hub counts its subscriber); then ends it and waits until the hub has let it go. Its
   * first result, or a stand-in with `data` for one that runs and has nothing to report yet.
   */
  async function untilRunning(
    definition: OperationDefinitionNode,
    start: (push: (result: Result) => void) => () => void,
  ): Promise<Result | undefined> {
    const field = definition.selectionSet.selections[0];
    const atOnce = field?.kind === Kind.FIELD && REPORTS_AT_ONCE.has(field.name.value);
    const results: Result[] = [];
    const stop = start((result) => results.push(result));
    let first: Result | undefined;
    try {
      await waitFor(
        () => {
          const running = !atOnce && stack.app.live.stats().subscribers > 0;
          first = results[0] ?? (running ? { data: null } : undefined);
          return first !== undefined;
        },
        { message: `${definition.name?.value ?? 'the subscription'} to answer${atOnce ? '' : ' or run'}` },
      );
    } finally {
      stop();
    }
    await waitFor(() => stack.app.live.stats().subscribers === 0, { message: 'the subscription to end' });
    return first;
  }
});

describe('TRUSTED_DOCUMENTS_MODE=prefer', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      listen: true,
      config: { trustedDocuments: { mode: 'prefer', manifest: manifestPath } },
    });
  });
  afterAll(() => stack.stop());

  it('accepts hashes and documents of their own over POST, GET, graphql-ws and SSE', async () => {
    const own: Sent = { query: 'query Own($name: String!) { workflow(name: $name) { name } }' };
    const expected = { data: { workflow: { name: WORKFLOW } } };
    for (const sent of [byHash('WorkflowName'), own]) {
      expect((await post(stack, sent, { name: WORKFLOW })).result).toEqual(expected);
      expect((await get(stack, sent, { name: WORKFLOW })).result).toEqual(expected);
      expect(await overWs(stack, sent, { name: WORKFLOW })).toEqual([expected]);
      expect(await overSse(stack, sent, { name: WORKFLOW })).toEqual([expected]);
    }
    expect(codes((await post(stack, UNKNOWN)).result)).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
  });
});

describe('TRUSTED_DOCUMENTS_MODE=off', () => {
  it('runs documents as before, and refuses a request by hash as one without a query', async () => {
    const stack = await startStack({ listen: true });
    try {
      expect((await post(stack, { query: '{ workflows(first: 1) { totalCount } }' })).result.data).toBeDefined();
      for (const sent of [byHash('WorkflowCount'), byDocumentId('WorkflowCount')]) {
        const { response, result } = await post(stack, sent);
        expect(response.status).toBe(400);
        expect(codes(result)).toEqual(['BAD_REQUEST']);
      }
    } finally {
      await stack.stop();
    }
  });
});

describe('ALLOW_GRAPHIQL_DOCUMENTS=true (local mode)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      listen: true,
      config: { trustedDocuments: { mode: 'only', manifest: manifestPath, allowGraphiQL: true } },
    });
  });
  afterAll(() => stack.stop());

  it('lets GraphiQL’s requests (its header, its connection_init) send their own documents, and no others', async () => {
    const own: Sent = { query: '{ workflows(first: 1) { totalCount } }' };
    const marker = { 'x-graphiql': 'true' };
    expect((await post(stack, own, undefined, marker)).result.data).toBeDefined();
    expect((await overWs(stack, own, undefined, marker))[0]?.data).toBeDefined();
    expect(codes((await post(stack, own)).result)).toEqual(['PERSISTED_QUERY_ONLY']);
    expect((await overWs(stack, own)).map(codes)).toEqual([['PERSISTED_QUERY_ONLY']]);
  });

  it('renders GraphiQL with the marker in its headers and its graphql-ws connection parameters', async () => {
    const page = await (await fetch(stack.url as string, { headers: { accept: 'text/html' } })).text();
    expect(page).toContain('"additionalHeaders":{"x-graphiql":"true"}');
    expect(page).toContain('"connectionParams":{"x-graphiql":"true"}');
  });
});

describe('start-up', () => {
  it('stops the server when the manifest is invalid, naming the file and the problem', async () => {
    const bad = join(directory, 'edited.json');
    const document = 'query Edited { workflows(first: 1) { totalCount } }';
    writeFileSync(bad, JSON.stringify({ [createHash('sha256').update('query { x }').digest('hex')]: document }));
    const server = spawnEntry('src/main.ts', { PORT: '0', TRUSTED_DOCUMENTS: bad, TRUSTED_DOCUMENTS_MODE: 'only' });
    expect(await server.exited()).toEqual({ code: 1, signal: null });
    expect(server.stderr()).toContain(`TRUSTED_DOCUMENTS ("${bad}")`);
    expect(server.stderr()).toContain('is not the sha256 hash of its document');
    expect(server.stdout()).not.toContain('Workflows GraphQL');
  }, 30_000);
});

/** Subscriptions whose first event is the current state (schema/schema.graphql); the others report later changes. */
const REPORTS_AT_ONCE = new Set(['instanceStatusChanged', 'instanceUpdated']);

/** The codes of a trusted-documents refusal (src/trusted-documents/resolve.ts): none may answer a manifest's hash. */
const TRUSTED_DOCUMENT_REFUSALS = new Set(['PERSISTED_QUERY_ONLY', 'PERSISTED_QUERY_NOT_FOUND', 'BAD_REQUEST']);

/** The schema clients build against, as schema/schema.graphql publishes it. */
const SCHEMA = buildSchema(readFileSync(join(ROOT, 'schema/schema.graphql'), 'utf8'));

const isDocument = (value: unknown): value is DocumentNode => (value as DocumentNode | null)?.kind === Kind.DOCUMENT;

/** The keys of `data` a selection answers with (its fields' aliases or names, through fragments). */
function rootKeys(document: DocumentNode, selectionSet: SelectionSetNode): string[] {
  const keys = selectionSet.selections.flatMap((selection): string[] => {
    if (selection.kind === Kind.FIELD) return [(selection.alias ?? selection.name).value];
    if (selection.kind === Kind.INLINE_FRAGMENT) return rootKeys(document, selection.selectionSet);
    const fragment = document.definitions.find(
      (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value,
    );
    return fragment?.kind === Kind.FRAGMENT_DEFINITION ? rootKeys(document, fragment.selectionSet) : [];
  });
  return [...new Set(keys)];
}

/**
 * Variables with which an operation runs: a value for each required variable (and each required field of an input
 * object), none for the others. Strings are chosen by name: workflows are order-fulfillment, instance ids
 * `instanceId`; the values need not find anything, only coerce, so that the operation runs.
 */
function variablesOf(definition: OperationDefinitionNode, instanceId: string): Record<string, unknown> {
  const valueOf = (type: GraphQLInputType, name: string): unknown => {
    if (isNonNullType(type)) return valueOf(type.ofType, name);
    if (isListType(type)) return [valueOf(type.ofType, name)];
    if (isInputObjectType(type)) {
      const required = Object.values(type.getFields()).filter((f) => isRequiredInputField(f));
      return Object.fromEntries(required.map((f) => [f.name, valueOf(f.type, f.name)]));
    }
    if (isEnumType(type)) return type.getValues()[0]?.value;
    switch (type.name) {
      case 'Int':
        return 5;
      case 'Boolean':
        return false;
      case 'ID':
        return 'not-a-global-id';
      case 'String':
        if (/workflow|^name$/i.test(name)) return WORKFLOW;
        if (/id$/i.test(name)) return instanceId;
        return /type/i.test(name) ? 'payment-approved' : 'order';
      default:
        throw new Error(`no value for the required ${type.name} $${name} of ${definition.name?.value ?? ''}`);
    }
  };
  const variables: Record<string, unknown> = {};
  for (const { variable, type, defaultValue } of definition.variableDefinitions ?? []) {
    const inputType = typeFromAST(SCHEMA, type);
    if (!inputType || !isInputType(inputType)) throw new Error(`$${variable.name.value} has no input type`);
    if (isNonNullType(inputType) && defaultValue === undefined) {
      variables[variable.name.value] = valueOf(inputType, variable.name.value);
    }
  }
  return variables;
}

/** The data of the first `next` event of an SSE response (either protocol's framing). */
async function firstEvent(response: Response): Promise<unknown> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the stream ended before an event: ${text}`);
    text += decoder.decode(value, { stream: true });
    const match = /event: next\ndata: (.*)\n/.exec(text);
    if (match?.[1]) {
      await reader.cancel();
      return JSON.parse(match[1]);
    }
  }
}
