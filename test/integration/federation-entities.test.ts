import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createApiKeyAuthenticator } from '../../src/auth/api-keys.js';
import { MAX_REPRESENTATIONS } from '../../src/schema/ids.js';
import { freshId } from '../helpers/instances.js';
import { startStack, type Stack } from '../helpers/stack.js';

// `_entities` as a federation gateway calls it: text documents, since codegen types the API schema only.
const WORKFLOW = 'order-fulfillment';
const OTHER_WORKFLOW = 'flaky-import';
const MAX_COST = 5;
const ENTITIES = `query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on WorkflowInstance { workflowName instanceId status }
    ... on Workflow { name className }
    ... on WorkflowVersion { workflowName versionId className }
  }
}`;
const WITH_STEPS = `query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) { ... on WorkflowInstance { instanceId steps { ... on NamedStep { name } } } }
}`;

let dir: string;
let stack: Stack;
const reader = createApiKey({ id: 'reader', scopes: ['workflows:read'] });
const ordersOnly = createApiKey({ id: 'orders-only', scopes: ['workflows:read'], workflows: [WORKFLOW] });
const writeOnly = createApiKey({ id: 'write-only', scopes: ['workflows:write'] });
const as = (key: string) => ({ authorization: `Bearer ${key}` });
const instance = (instanceId: string, workflowName = WORKFLOW) => ({
  __typename: 'WorkflowInstance',
  workflowName,
  instanceId,
});

/** Instances created straight at the emulator; with its manual clock they stay unfinished, so no cache answers for them. */
async function createInstances(count: number, workflowName = WORKFLOW): Promise<string[]> {
  const ids = Array.from({ length: count }, () => freshId('fed'));
  await stack.rest(
    'POST',
    `/${workflowName}/instances/batch`,
    ids.map((id) => ({ instance_id: id })),
  );
  return ids;
}

/** Upstream instance reads since the last reset, as `simple` or `full` fetches. */
function detailFetches(): string[] {
  return stack.sentUrls
    .filter((url) => /^GET \/accounts\/[^/]+\/workflows\/[^/]+\/instances\/[^/?]+(\?|$)/.test(url))
    .map((url) => (url.includes('simple=true') ? 'simple' : 'full'));
}

function reset(): void {
  stack.resetCalls();
  stack.sentUrls.length = 0;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wfgql-federation-'));
  const keysFile = join(dir, 'keys.json');
  await writeFile(keysFile, JSON.stringify([reader.entry, ordersOnly.entry, writeOnly.entry]));
  stack = await startStack({
    recordUrls: true,
    authenticator: await createApiKeyAuthenticator(keysFile),
    config: { maxQueryCost: MAX_COST },
  });
});
afterAll(async () => {
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('_entities', () => {
  it('resolves instances, workflows and versions by their keys, in order, and unknown ones to null without an error', async () => {
    const [id] = await createInstances(1);
    const versions = await stack.rest<{ id: string }[]>('GET', `/${WORKFLOW}/versions`);
    const versionId = versions[0]!.id;
    const result = await stack.graphql(
      ENTITIES,
      {
        representations: [
          instance(id!),
          instance('no-such-instance'),
          { __typename: 'Workflow', name: WORKFLOW },
          { __typename: 'Workflow', name: 'no-such-workflow' },
          { __typename: 'WorkflowVersion', workflowName: WORKFLOW, versionId },
        ],
      },
      as(reader.key),
    );
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      _entities: [
        { __typename: 'WorkflowInstance', workflowName: WORKFLOW, instanceId: id, status: 'WAITING' },
        null,
        { __typename: 'Workflow', name: WORKFLOW, className: 'OrderFulfillmentWorkflow' },
        null,
        { __typename: 'WorkflowVersion', workflowName: WORKFLOW, versionId, className: 'OrderFulfillmentWorkflow' },
      ],
    });
  });

  it('fetches identical representations once, with simple details unless steps are selected', async () => {
    const [a, b] = await createInstances(2);
    reset();
    const plain = await stack.graphql(
      ENTITIES,
      { representations: [instance(a!), instance(b!), instance(a!), instance(a!)] },
      as(reader.key),
    );
    expect(plain.errors).toBeUndefined();
    expect(detailFetches()).toEqual(['simple', 'simple']);

    reset();
    const withSteps = await stack.graphql<{ _entities: { instanceId: string; steps: unknown[] }[] }>(
      WITH_STEPS,
      { representations: [instance(a!), instance(a!)] },
      as(reader.key),
    );
    expect(withSteps.data?._entities.map((e) => e.instanceId)).toEqual([a, a]);
    expect(detailFetches()).toEqual(['full']);
  });

  it('refuses a malformed representation or an unknown type on its own, and resolves the others', async () => {
    const [id] = await createInstances(1);
    const result = await stack.graphql<{ _entities: unknown[] }>(
      ENTITIES,
      {
        representations: [
          { __typename: 'Query' },
          { __typename: 'WorkflowInstance', workflowName: WORKFLOW, instanceId: 42 },
          instance(id!),
        ],
      },
      as(reader.key),
    );
    expect(result.data?._entities).toEqual([
      null,
      null,
      { __typename: 'WorkflowInstance', workflowName: WORKFLOW, instanceId: id, status: 'WAITING' },
    ]);
    expect(result.errors?.map((e) => [e.path?.join('.'), e.extensions?.['code']])).toEqual([
      ['_entities.0', 'BAD_USER_INPUT'],
      ['_entities.1', 'BAD_USER_INPUT'],
    ]);
  });

  it('answers null for an unknown version and for an instance of an unknown workflow', async () => {
    const result = await stack.graphql<{ _entities: unknown[] }>(
      ENTITIES,
      {
        representations: [
          { __typename: 'WorkflowVersion', workflowName: WORKFLOW, versionId: '00000000-0000-4000-8000-000000000000' },
          instance('some-instance', 'no-such-workflow'),
        ],
      },
      as(reader.key),
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?._entities).toEqual([null, null]);
  });

  it('refuses a malformed key field before any upstream call, naming the field under `representations`', async () => {
    reset();
    const version = (versionId: string) => ({ __typename: 'WorkflowVersion', workflowName: WORKFLOW, versionId });
    const result = await stack.graphql<{ _entities: unknown[] }>(
      ENTITIES,
      {
        representations: [
          version(''),
          version('a'.repeat(5_000)),
          { __typename: 'Workflow', name: 'no spaces allowed' },
          instance('bad\nid'),
          { __typename: 'WorkflowInstance', workflowName: WORKFLOW },
        ],
      },
      as(reader.key),
    );
    expect(result.data?._entities).toEqual([null, null, null, null, null]);
    expect(result.errors?.map((e) => [e.path?.join('.'), e.extensions?.['code'], e.extensions?.['argument']])).toEqual(
      [0, 1, 2, 3, 4].map((i) => [`_entities.${i}`, 'BAD_USER_INPUT', 'representations']),
    );
    expect(result.errors?.map((e) => /`(\w+)`/.exec(e.message)?.[1])).toEqual([
      'versionId',
      'versionId',
      'name',
      'instanceId',
      'instanceId',
    ]);
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('refuses a __typename that is no entity of this subgraph, and a representation that is no object', async () => {
    reset();
    const result = await stack.graphql<{ _entities: unknown[] }>(
      ENTITIES,
      { representations: [{ __typename: 'Nope' }, { __typename: '__proto__' }, { __typename: 'PageInfo' }, 'x', 7] },
      as(reader.key),
    );
    expect(result.data?._entities).toEqual([null, null, null, null, null]);
    expect(result.errors?.map((e) => [e.path?.join('.'), e.extensions?.['code']])).toEqual(
      [0, 1, 2, 3, 4].map((i) => [`_entities.${i}`, 'BAD_USER_INPUT']),
    );
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('prices each distinct representation against the cost limit, before any upstream call', async () => {
    const ids = await createInstances(MAX_COST + 1);
    reset();
    const tooMany = await stack.graphql(ENTITIES, { representations: ids.map((id) => instance(id)) }, as(reader.key));
    expect(tooMany.data).toBeUndefined();
    expect(tooMany.errors?.map((e) => [e.extensions?.['code'], e.extensions?.['cost']])).toEqual([
      ['QUERY_TOO_EXPENSIVE', MAX_COST + 1],
    ]);
    expect(stack.upstreamCalls()).toBe(0);

    // The same instance many times is one lookup.
    const repeated = await stack.graphql<{ _entities: unknown[] }>(
      ENTITIES,
      { representations: Array.from({ length: 3 * MAX_COST }, () => instance(ids[0]!)) },
      as(reader.key),
    );
    expect(repeated.errors).toBeUndefined();
    expect(repeated.data?._entities).toHaveLength(3 * MAX_COST);
    expect(stack.upstreamCalls()).toBe(1);
  });

  it('refuses more than MAX_REPRESENTATIONS representations before any upstream call', async () => {
    const [id] = await createInstances(1);
    reset();
    const result = await stack.graphql(
      ENTITIES,
      { representations: Array.from({ length: MAX_REPRESENTATIONS + 1 }, () => instance(id!)) },
      as(reader.key),
    );
    expect(result.data?._entities ?? null).toBeNull();
    expect(result.errors?.map((e) => e.extensions?.['code'])).toEqual(['BAD_USER_INPUT']);
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('applies access control to each representation as `instance(...)` does: FORBIDDEN, and nothing fetched', async () => {
    const [allowed] = await createInstances(1);
    const [forbidden] = await createInstances(1, OTHER_WORKFLOW);
    reset();
    const result = await stack.graphql<{ _entities: unknown[] }>(
      ENTITIES,
      {
        representations: [
          instance(forbidden!, OTHER_WORKFLOW),
          { __typename: 'Workflow', name: OTHER_WORKFLOW },
          instance(allowed!),
        ],
      },
      as(ordersOnly.key),
    );
    expect(result.data?._entities).toEqual([
      null,
      null,
      { __typename: 'WorkflowInstance', workflowName: WORKFLOW, instanceId: allowed, status: 'WAITING' },
    ]);
    expect(result.errors?.map((e) => [e.path?.join('.'), e.extensions?.['code']])).toEqual([
      ['_entities.0', 'FORBIDDEN'],
      ['_entities.1', 'FORBIDDEN'],
    ]);
    // Only the allowed instance reached upstream; the other workflow was never asked about.
    expect(stack.sentUrls.filter((url) => url.includes(OTHER_WORKFLOW))).toEqual([]);
    expect(detailFetches()).toEqual(['simple']);
  });
  it('refuses a version of a forbidden workflow (FORBIDDEN), and every entity to a key without workflows:read', async () => {
    const [id] = await createInstances(1);
    const versions = await stack.rest<{ id: string }[]>('GET', `/${OTHER_WORKFLOW}/versions`);
    reset();
    const version = await stack.graphql<{ _entities: unknown[] }>(
      ENTITIES,
      {
        representations: [{ __typename: 'WorkflowVersion', workflowName: OTHER_WORKFLOW, versionId: versions[0]!.id }],
      },
      as(ordersOnly.key),
    );
    expect(version.data?._entities).toEqual([null]);
    expect(version.errors?.map((e) => e.extensions?.['code'])).toEqual(['FORBIDDEN']);

    const noRead = await stack.graphql<{ _entities: unknown[] }>(
      ENTITIES,
      { representations: [instance(id!), { __typename: 'Workflow', name: WORKFLOW }] },
      as(writeOnly.key),
    );
    expect(noRead.data?._entities).toEqual([null, null]);
    expect(noRead.errors?.map((e) => [e.path?.join('.'), e.extensions?.['code']])).toEqual([
      ['_entities.0', 'FORBIDDEN'],
      ['_entities.1', 'FORBIDDEN'],
    ]);
    expect(stack.upstreamCalls()).toBe(0);
  });
});

describe('_service', () => {
  it('answers the federation SDL committed in schema/subgraph.graphql', async () => {
    const committed = await readFile(new URL('../../schema/subgraph.graphql', import.meta.url), 'utf8');
    reset();
    const result = await stack.graphql<{ _service: { sdl: string } }>('{ _service { sdl } }', {}, as(reader.key));
    expect(result.data?._service.sdl.trim()).toBe(committed.trim());
    expect(stack.upstreamCalls()).toBe(0);
  });
});
