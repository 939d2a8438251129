import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createCostCache } from '../../src/cost/cache.js';
import { estimateCost, MAX_SELECTIONS } from '../../src/cost/estimate.js';
import { useQueryCostLimit } from '../../src/cost/plugin.js';
import { schema } from '../../src/schema/index.js';

const globalId = (typename: string, id: string): string => Buffer.from(`${typename}:${id}`).toString('base64');

function cost(query: string, variables: Record<string, unknown> = {}, operationName?: string): number | undefined {
  return estimateCost(schema, parse(query), { variables, ...(operationName ? { operationName } : {}) })?.cost;
}

const WF = 'workflow(name: "w")';
const INSTANCE = 'instance(workflowName: "w", instanceId: "i")';

describe('estimateCost on reads', () => {
  it.each([
    [
      'list fields of a page cost the list alone (it also tells whether the workflow exists)',
      `{ ${WF} { instances(first: 50) { totalCount nodes { instanceId status createdOn version { versionId } canPause } } } }`,
      1,
    ],
    [
      'details fields cost one call per listed instance',
      `{ ${WF} { instances(first: 50) { nodes { params output stepCount } } } }`,
      51,
    ],
    [
      'steps share the details call of a listed instance',
      `{ ${WF} { instances(first: 50) { nodes { params steps { type } } } } }`,
      51,
    ],
    ['a page without first has the default size of 20', `{ ${WF} { instances { nodes { params } } } }`, 21],
    [
      'nodes and edges.node are the same instances',
      `{ ${WF} { instances(first: 5) { nodes { params } edges { cursor node { output } } } } }`,
      6,
    ],
    [
      'a page after a cursor may take two calls',
      `{ ${WF} { instances(first: 5, after: "x") { nodes { instanceId } } } }`,
      2,
    ],
    ['last without before may take three calls', `{ ${WF} { instances(last: 5) { nodes { instanceId } } } }`, 3],
    [
      'a page size over 100 is refused before any call, so the workflow lookup is the one call',
      `{ ${WF} { instances(first: 101) { nodes { params } } } }`,
      1,
    ],
    [
      'first and last together are refused before any call, so the workflow lookup is the one call',
      `{ ${WF} { instances(first: 1, last: 1) { nodes { params } } } }`,
      1,
    ],
    [
      'an instance lookup answers every instance field',
      `{ ${INSTANCE} { status params output steps { type } stepCount } }`,
      1,
    ],
    [
      'step outputs cost one call per assumed step',
      `{ ${INSTANCE} { steps { ... on DoStep { output } ... on WaitForEventStep { payload } } } }`,
      11,
    ],
    [
      'step outputs of listed instances multiply',
      `{ ${WF} { instances(first: 2) { nodes { steps { ... on DoStep { output } } } } } }`,
      1 + 2 + 2 * 10,
    ],
    ['the same field under two aliases is fetched once', `{ a: ${INSTANCE} { params } b: ${INSTANCE} { output } }`, 1],
    [
      'step outputs of one instance under two aliases are fetched once',
      `{ ${INSTANCE} { a: steps { ... on DoStep { output } } b: steps(order: DESC) { ... on DoStep { output } } } }`,
      11,
    ],
    [
      'different instances cost one call each',
      `{ a: ${INSTANCE} { params } b: instance(workflowName: "w", instanceId: "j") { params } }`,
      2,
    ],
    [
      'a simple and a full fetch of one instance in different places count apart',
      `{ ${INSTANCE} { params } ${WF} { instance(instanceId: "i") { steps { type } } } }`,
      2,
    ],
    ['a workflow lookup with only its name costs the lookup', `{ ${WF} { id name __typename } }`, 1],
    [
      'a workflow lookup whose fields need its record costs the record and the list',
      `{ ${WF} { className instances(first: 5) { totalCount } } }`,
      2,
    ],
    [
      'workflow fields reached from an instance share the workflow lookup',
      `{ ${INSTANCE} { workflow { className } } ${WF} { name } }`,
      2,
    ],
    [
      'version fields of listed instances cost one call per instance',
      `{ ${WF} { instances(first: 5) { nodes { version { className } } } } }`,
      6,
    ],
    ['latestVersion and its graph cost one call each', `{ ${WF} { latestVersion { className graph } } }`, 2],
    [
      'versions are a list; graph costs one call per version',
      `{ ${WF} { versions(first: 3) { nodes { className graph } } } }`,
      4,
    ],
    [
      'workflow fields of a workflow list are free',
      `{ workflows(first: 30) { nodes { name className instanceCounts { total } schedules { cron } } } }`,
      1,
    ],
    [
      'each workflow of a list costs its own instance list',
      `{ workflows(first: 30) { nodes { instances(first: 1) { totalCount } } } }`,
      31,
    ],
    [
      'node decodes the id: a workflow',
      `{ node(id: "${globalId('Workflow', 'w')}") { id ... on Workflow { className latestVersion { versionId } } } }`,
      2,
    ],
    [
      'node decodes the id: an instance shares the key of instance()',
      `{ node(id: "${globalId('WorkflowInstance', 'w/i')}") { ... on WorkflowInstance { params } } ${INSTANCE} { output } }`,
      1,
    ],
    [
      'node decodes the id: a version',
      `{ node(id: "${globalId('WorkflowVersion', 'w/00000000-0000-4000-8000-000000000001')}") { ... on WorkflowVersion { className graph } } }`,
      2,
    ],
    [
      'a version id that is not a uuid is refused before any call',
      `{ node(id: "${globalId('WorkflowVersion', 'w/v1')}") { ... on WorkflowVersion { className graph } } }`,
      0,
    ],
    [
      'nodes costs one lookup per id',
      `{ nodes(ids: ["${globalId('Workflow', 'a')}", "${globalId('Workflow', 'b')}", "${globalId('WorkflowInstance', 'a/x')}"]) { id } }`,
      3,
    ],
    ['a malformed global id is refused before any call', '{ node(id: "not base64 at all!") { id } }', 0],
    [
      'introspection is free',
      '{ __typename __schema { types { name fields { name } } } __type(name: "Workflow") { name } }',
      0,
    ],
  ])('%s', (_name, query, expected) => {
    expect(cost(query)).toBe(expected);
  });

  it('resolves variables, their defaults and @skip/@include', () => {
    const query = `query Q($wf: String!, $n: Int = 7, $withParams: Boolean!) {
      workflow(name: $wf) { instances(first: $n) { nodes { params @include(if: $withParams) } } }
    }`;
    expect(cost(query, { wf: 'w', n: 30, withParams: true })).toBe(31);
    expect(cost(query, { wf: 'w', withParams: true })).toBe(8);
    expect(cost(query, { wf: 'w', n: 30, withParams: false })).toBe(1);
    expect(cost(`{ ${WF} @skip(if: true) { name } }`)).toBe(0);
  });

  it('follows named fragments and inline fragments, on interfaces too', () => {
    const query = `
      query { ${WF} { instances(first: 4) { nodes { ...Row } } } }
      fragment Row on WorkflowInstance { ... on Node { id } ...Details }
      fragment Details on WorkflowInstance { ... { steps { ...Out } } }
      fragment Out on WorkflowStep { ... on DoStep { output } }
    `;
    expect(cost(query)).toBe(1 + 4 + 4 * 10);
  });

  it('picks the operation by name, and gives no estimate for one that cannot run', () => {
    const document = `query A { ${WF} { name } } query B { ${INSTANCE} { params } workflows { totalCount } }`;
    expect(cost(document, {}, 'A')).toBe(1);
    expect(cost(document, {}, 'B')).toBe(2);
    expect(cost(document, {}, 'C')).toBeUndefined();
    expect(cost(document)).toBeUndefined(); // two operations, no name
    expect(cost('query Q($n: Int!) { workflows(first: $n) { totalCount } }', { n: 'many' })).toBeUndefined();
    expect(cost('query Q($n: Int!) { workflows(first: $n) { totalCount } }', {})).toBeUndefined();
  });

  it('names the fields that drive the cost, costliest first', () => {
    const estimate = estimateCost(
      schema,
      parse(
        '{ workflows(first: 100) { nodes { instances(first: 100) { nodes { steps { ... on DoStep { output } } } } } } }',
      ),
    );
    expect(estimate).toEqual({
      cost: 1 + 100 + 100 * 100 + 100 * 100 * 10,
      truncated: false,
      drivers: [
        { path: 'workflows.nodes.instances.nodes.steps.output', cost: 100_000 },
        { path: 'workflows.nodes.instances.nodes.steps', cost: 10_000 },
        { path: 'workflows.nodes.instances', cost: 100 },
        { path: 'workflows', cost: 1 },
      ],
    });
  });

  it('gives up on an operation with more selections than it walks, and says so', () => {
    // Each fragment selects the next one twice: 2^16 paths from a document of a few hundred characters.
    const depth = 16;
    const fragments = Array.from(
      { length: depth },
      (_, i) =>
        `fragment F${i} on Workflow { a: instance(instanceId: "a${i}") { workflow { ...F${i + 1} } } b: instance(instanceId: "b${i}") { workflow { ...F${i + 1} } } }`,
    ).join('\n');
    const query = `{ ${WF} { ...F0 } }\n${fragments}\nfragment F${depth} on Workflow { name }`;
    const estimate = estimateCost(schema, parse(query));
    expect(estimate?.truncated).toBe(true);
    expect(estimate?.cost).toBeGreaterThan(0);
    expect(2 ** depth).toBeGreaterThan(MAX_SELECTIONS);
  });
});

describe('estimateCost on mutations and subscriptions', () => {
  const created = (n: number): Record<string, unknown> => ({
    input: { workflowName: 'w', instances: Array.from({ length: n }, (_, i) => ({ instanceId: `i${i}` })) },
  });
  const BATCH = `mutation M($input: CreateInstancesInput!) {
    createInstances(input: $input) { ... on CreateInstancesPayload { createdCount results { instanceId instance { SELECTION } } } }
  }`;

  it.each([
    ['createInstances costs one call per 100 instances', BATCH.replace('SELECTION', 'instanceId'), created(250), 3],
    [
      'instance fields of created instances cost one call each',
      BATCH.replace('SELECTION', 'status'),
      created(150),
      2 + 150,
    ],
    ['an empty batch is refused before any call', BATCH.replace('SELECTION', 'status'), created(0), 0],
    [
      'createInstance costs one call, plus its instance beyond the key',
      'mutation { createInstance(input: { workflowName: "w" }) { ... on CreateInstancePayload { instance { instanceId params } } } }',
      {},
      2,
    ],
    [
      'a status change costs its call and the lookup a refusal makes',
      'mutation { pauseInstance(input: { workflowName: "w", instanceId: "i" }) { __typename ... on Error { message } } }',
      {},
      2,
    ],
    [
      'an event costs its call and the lookup a refusal makes',
      'mutation { sendInstanceEvent(input: { workflowName: "w", instanceId: "i", type: "t" }) { __typename } }',
      {},
      2,
    ],
    [
      'a status change reading the instance back costs that read or the refusal lookup, never both',
      'mutation { terminateInstance(input: { workflowName: "w", instanceId: "i" }) { ... on TerminateInstancePayload { instance { status steps { type } } } } }',
      {},
      2,
    ],
    [
      'each mutation of an operation counts',
      'mutation { a: resumeInstance(input: { workflowName: "w", instanceId: "i" }) { __typename } b: resumeInstance(input: { workflowName: "w", instanceId: "j" }) { __typename } }',
      {},
      4,
    ],
    [
      'an instance status subscription costs its poll; the event comes with details',
      'subscription { instanceStatusChanged(workflowName: "w", instanceId: "i") { status instance { params steps { type } } } }',
      {},
      1,
    ],
    [
      'step outputs of a subscribed instance are counted once',
      'subscription { instanceUpdated(workflowName: "w", instanceId: "i") { steps { ... on DoStep { output } } } }',
      {},
      11,
    ],
    [
      'instances of a workflow subscription cost a details call beyond their key',
      'subscription { workflowInstancesChanged(workflowName: "w") { status instance { instanceId params } } }',
      {},
      2,
    ],
  ])('%s', (_name, query, variables, expected) => {
    expect(cost(query, variables)).toBe(expected);
  });
});

describe('useQueryCostLimit', () => {
  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('refuses maxCost %s', (maxCost) => {
    expect(() => useQueryCostLimit({ maxCost })).toThrow(/maxCost must be a positive number/);
  });
});

describe('createCostCache', () => {
  const TWO = parse(
    'query Two($w: String!, $a: String!, $b: String!) { a: instance(workflowName: $w, instanceId: $a) { params } b: instance(workflowName: $w, instanceId: $b) { params } }',
  );

  it('reuses the estimate of a document for other names and ids of the same pattern', () => {
    const estimate = createCostCache();
    const first = estimate(schema, TWO, { variables: { w: 'wf', a: 'x', b: 'y' }, operationName: null });
    const second = estimate(schema, TWO, { variables: { w: 'other', a: 'p', b: 'q' }, operationName: null });
    expect(first?.cost).toBe(2);
    expect(second).toBe(first);
  });

  it('tells apart variables that change the estimate: repeated ids, page sizes, flags', () => {
    const estimate = createCostCache();
    expect(estimate(schema, TWO, { variables: { w: 'wf', a: 'x', b: 'x' }, operationName: null })?.cost).toBe(1);
    expect(estimate(schema, TWO, { variables: { w: 'wf', a: 'x', b: 'y' }, operationName: null })?.cost).toBe(2);
    const page = parse(
      'query P($w: String!, $n: Int, $p: Boolean!) { workflow(name: $w) { instances(first: $n) { nodes { params @include(if: $p) } } } }',
    );
    expect(estimate(schema, page, { variables: { w: 'wf', n: 5, p: true }, operationName: null })?.cost).toBe(6);
    expect(estimate(schema, page, { variables: { w: 'wf', n: 9, p: true }, operationName: null })?.cost).toBe(10);
    expect(estimate(schema, page, { variables: { w: 'wf', n: 9, p: false }, operationName: null })?.cost).toBe(1);
  });

  it('estimates each operation of a document by its name', () => {
    const estimate = createCostCache();
    const document = parse(`query A { ${WF} { name } } query B { ${INSTANCE} { params } workflows { totalCount } }`);
    expect(estimate(schema, document, { variables: null, operationName: 'A' })?.cost).toBe(1);
    expect(estimate(schema, document, { variables: null, operationName: 'B' })?.cost).toBe(2);
  });

  it('keeps values that are not plain strings, so bad ones still leave no estimate', () => {
    const estimate = createCostCache();
    const dated = parse(
      'query D($w: String!, $after: DateTime) { workflow(name: $w) { instances(createdAfter: $after) { totalCount } } }',
    );
    expect(
      estimate(schema, dated, { variables: { w: 'wf', after: 'yesterday' }, operationName: null }),
    ).toBeUndefined();
    expect(
      estimate(schema, dated, { variables: { w: 'wf', after: '2026-01-01T00:00:00Z' }, operationName: null })?.cost,
    ).toBe(1);
    expect(estimate(schema, TWO, { variables: { w: 'wf', a: 7, b: 'y' }, operationName: null })).toBeUndefined();
  });
});
