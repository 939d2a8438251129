import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse, print, type DocumentNode } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createContextFactory, type Context } from '../../src/context.js';
import { estimateCost } from '../../src/cost/estimate.js';
import { useQueryCostLimit } from '../../src/cost/plugin.js';
import { DEFAULT_QUERY } from '../../src/graphiql.js';
import { schema } from '../../src/schema/index.js';
import {
  InstanceAllFieldsDocument,
  InstanceGlobalIdDocument,
  InstanceListFieldsDocument,
  InstancePageFullDetailsDocument,
  InstancePageListFieldsDocument,
  InstancePageSimpleDetailsDocument,
  InstanceSelectedFourWaysDocument,
  InstanceStepOutputsTwiceDocument,
  WorkflowAllFieldsDocument,
  WorkflowAndInstancesDocument,
} from '../generated/operations.js';
import { expectData, expectPresent } from '../helpers/graphql.js';
import { startStack, type GraphQLResult, type Stack } from '../helpers/stack.js';

const WORKFLOW = 'flaky-import';
const LIMIT = 60;

let stack: Stack;
/** Yoga over the real schema and the stack's upstream, with the cost limit: the plugin as the app will run it. */
let limited: ReturnType<typeof createYoga<Record<string, unknown>, Context>>;

beforeAll(async () => {
  stack = await startStack();
  await stack.rest(
    'POST',
    `/${WORKFLOW}/instances/batch`,
    Array.from({ length: 60 }, (_, i) => ({ instance_id: `cost-${String(i).padStart(2, '0')}`, params: { n: i } })),
  );
  const context = createContextFactory({ config: stack.config, upstream: stack.app.upstream, live: stack.app.live });
  limited = createYoga<Record<string, unknown>, Context>({
    schema,
    context: ({ request }) => context(request),
    logging: false,
    plugins: [useQueryCostLimit({ maxCost: LIMIT })],
  });
});
afterAll(() => stack.stop());
beforeEach(() => stack.resetCalls());

async function post<T>(query: string | DocumentNode, variables?: Record<string, unknown>): Promise<GraphQLResult<T>> {
  const response = await limited.fetch('http://127.0.0.1/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: typeof query === 'string' ? query : print(query), variables }),
  });
  return (await response.json()) as GraphQLResult<T>;
}

function estimate(document: DocumentNode | string, variables: Record<string, unknown> = {}): number {
  const found = estimateCost(schema, typeof document === 'string' ? parse(document) : document, { variables });
  return expectPresent(found, 'estimate').cost;
}

describe('the estimate against measured upstream calls', () => {
  let instanceNodeId: string;
  beforeAll(async () => {
    instanceNodeId = expectPresent(
      expectData(await stack.graphql(InstanceGlobalIdDocument, { workflowName: WORKFLOW, id: 'cost-07' })).instance,
      'cost-07',
    ).id;
  });

  /** Runs the operation through the app, returns [estimate, upstream requests it made]. */
  async function measure<R, V extends Record<string, unknown>>(
    document: TypedDocumentNode<R, V>,
    variables: V,
  ): Promise<[number, number]> {
    stack.resetCalls();
    const result = await stack.graphql(document as TypedDocumentNode<R, Record<string, unknown>>, variables);
    expect(result.errors).toBeUndefined();
    return [estimate(document, variables), stack.upstreamCalls()];
  }

  it('equals the calls of the 50-instance page with list fields only (the list alone)', async () => {
    expect(await measure(InstancePageListFieldsDocument, { workflowName: WORKFLOW, first: 50 })).toEqual([1, 1]);
  });

  it('equals the calls of the 50-instance page with details (list + one per instance)', async () => {
    expect(await measure(InstancePageSimpleDetailsDocument, { workflowName: WORKFLOW, first: 50 })).toEqual([51, 51]);
  });

  it('equals the calls of the 50-instance dashboard with steps (full details cost one call per instance)', async () => {
    expect(await measure(InstancePageFullDetailsDocument, { workflowName: WORKFLOW, first: 50 })).toEqual([51, 51]);
  });

  it('equals the calls of a workflow lookup whose fields need its record (the record and the list, together)', async () => {
    expect(await measure(WorkflowAndInstancesDocument, { name: WORKFLOW })).toEqual([2, 2]);
  });

  it('bounds a backwards page, which may need the total first', async () => {
    const [estimated, actual] = await measure(InstanceListFieldsDocument, {
      workflowName: WORKFLOW,
      first: null,
      after: null,
      last: 5,
      before: null,
    });
    expect(estimated).toBeGreaterThanOrEqual(actual);
    expect(estimated).toBeLessThanOrEqual(actual + 2);
  });

  it('bounds one instance reached four ways, counting the simple and the full fetch apart', async () => {
    const [estimated, actual] = await measure(InstanceSelectedFourWaysDocument, {
      workflowName: WORKFLOW,
      id: 'cost-07',
      nodeId: instanceNodeId,
    });
    // One full details call: `d`'s lookup starts with `a`, `b` and `c` in the same pass and is merged with them.
    expect(actual).toBe(1);
    expect(estimated).toBe(2);
  });

  it('prices every field of a full page of workflows at the per-workflow calls measured', async () => {
    const [estimated, actual] = await measure(WorkflowAllFieldsDocument, {});
    const workflows = expectData(await stack.graphql(WorkflowAllFieldsDocument)).workflows.edges.length;
    // Per workflow: latestVersion, its graph, a versions page, an instances page; the estimate assumes `first: 10` of them.
    expect(actual).toBe(1 + 4 * workflows);
    expect(estimated).toBe(1 + 4 * 10);
  });

  it('bounds every field of an instance with step outputs, within the assumed step count', async () => {
    const [estimated, actual] = await measure(InstanceAllFieldsDocument, {
      workflowName: 'order-fulfillment',
      id: 'order-1004',
    });
    expect(estimated).toBeGreaterThanOrEqual(actual);
    expect(estimated).toBeLessThanOrEqual(1 + 10 + 1 + 1); // lookup, outputs of up to 10 steps, version, its workflow
  });

  it('equals the calls of `_entities` naming 50 instances twice each, with steps, and their workflow', async () => {
    const instances = Array.from({ length: 50 }, (_, i) => ({
      __typename: 'WorkflowInstance',
      workflowName: WORKFLOW,
      instanceId: `cost-${String(i).padStart(2, '0')}`,
    }));
    const query = `query Entities($representations: [_Any!]!) {
      _entities(representations: $representations) {
        ... on WorkflowInstance { status steps { type } }
        ... on Workflow { className }
      }
    }`;
    const variables = { representations: [...instances, ...instances, { __typename: 'Workflow', name: WORKFLOW }] };
    stack.resetCalls();
    const result = await stack.graphql(query, variables);
    expect(result.errors).toBeUndefined();
    // One full details call per distinct instance, one for the workflow's record.
    expect([estimate(query, variables), stack.upstreamCalls()]).toEqual([51, 51]);
  });

  it('counts step outputs selected twice once, as the loader fetches them once', async () => {
    const [estimated, actual] = await measure(InstanceStepOutputsTwiceDocument, {
      workflowName: 'order-fulfillment',
      id: 'order-1004',
    });
    expect(estimated).toBe(11);
    expect(estimated).toBeGreaterThanOrEqual(actual);
  });

  describe('one step by its logged name (`steps(name:)`)', () => {
    const STEP_OUTPUT_READS = {
      method: 'GET',
      route: 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}/step',
    };
    const stepOutput = (selection: string) =>
      `{ instance(workflowName: "order-fulfillment", instanceId: "order-1004") { steps${selection} { ... on NamedStep { name } ... on DoStep { output } } } }`;
    type Steps = { instance: { steps: { name?: string; output?: unknown }[] } | null };

    it('fetches the full output of that step alone, and is priced at that one call, not one per step', async () => {
      stack.resetCalls();
      const query = stepOutput('(name: "charge-card-1")');
      const result = await stack.graphql<Steps>(query);
      expect(result.errors).toBeUndefined();
      const steps = expectPresent(expectData(result).instance, 'order-1004').steps;
      expect(steps.map((step) => step.name)).toEqual(['charge-card-1']);
      expect(steps[0]?.output).not.toBeNull();
      expect(stack.upstreamCalls(STEP_OUTPUT_READS)).toBe(1);
      expect(stack.upstreamCalls()).toBe(2); // the instance with its step log, and that step's output
      expect(estimate(query)).toBe(2);
      expect(estimate(stepOutput(''))).toBe(11);
    });

    it('answers an empty list for a name the log does not hold, fetching no output', async () => {
      stack.resetCalls();
      const result = await stack.graphql<Steps>(stepOutput('(name: "no-such-step-1")'));
      expect(result.errors).toBeUndefined();
      expect(expectPresent(expectData(result).instance, 'order-1004').steps).toEqual([]);
      expect(stack.upstreamCalls(STEP_OUTPUT_READS)).toBe(0);
    });

    it('prices a `do` and a `waitForEvent` output under one name at two calls: a name may be both kinds', () => {
      const query = `{ instance(workflowName: "order-fulfillment", instanceId: "order-1004") {
        steps(name: "x-1") { ... on DoStep { output } ... on WaitForEventStep { payload } } } }`;
      expect(estimate(query)).toBe(3);
    });
  });

  it("bounds GraphiQL's default query", async () => {
    stack.resetCalls();
    expectData(await stack.graphql(DEFAULT_QUERY));
    expect(estimate(DEFAULT_QUERY)).toBeGreaterThanOrEqual(stack.upstreamCalls());
  });
});

const PAGE_WITH_PARAMS = /* GraphQL */ `
  query Page($workflowName: String!, $first: Int) {
    workflow(name: $workflowName) {
      instances(first: $first) {
        nodes {
          instanceId
          params
        }
      }
    }
  }
`;

describe('the cost limit', () => {
  it('refuses an operation over the limit before any upstream call, saying what drives the cost', async () => {
    const result = await post(PAGE_WITH_PARAMS, { workflowName: WORKFLOW, first: 60 });
    expect(result.data).toBeUndefined();
    expect(result.errors).toEqual([
      {
        message:
          'The operation would need up to 61 requests to the Workflows API; the limit is 60 per operation. ' +
          'Costliest fields: workflow.instances.nodes.params (60), workflow.instances (1). ' +
          'Ask for fewer items (`first`/`last`), or fetch nested lists and step outputs in separate operations.',
        extensions: { code: 'QUERY_TOO_EXPENSIVE', cost: 61, limit: 60 },
      },
    ]);
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('runs an operation whose estimate is exactly the limit, within that many calls', async () => {
    const data = expectData(
      await post<{ workflow: { instances: { nodes: { params: unknown }[] } } }>(PAGE_WITH_PARAMS, {
        workflowName: WORKFLOW,
        first: 59,
      }),
    );
    expect(data.workflow.instances.nodes).toHaveLength(59);
    expect(stack.upstreamCalls()).toBe(60);
  });

  it('refuses the fan-out over every workflow, instance and step output', async () => {
    const result = await post(
      '{ workflows(first: 100) { nodes { instances(first: 100) { nodes { steps { ... on DoStep { output } } } } } } }',
    );
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'QUERY_TOO_EXPENSIVE', cost: 110_101, limit: 60 });
    expect(result.errors?.[0]?.message).toContain('workflows.nodes.instances.nodes.steps.output (100,000)');
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('refuses a mutation whose returned instances would cost too much, creating nothing', async () => {
    const mutation = /* GraphQL */ `
      mutation Create($input: CreateInstancesInput!) {
        createInstances(input: $input) {
          ... on CreateInstancesPayload {
            results {
              instance {
                params
              }
            }
          }
        }
      }
    `;
    const instances = Array.from({ length: 60 }, (_, i) => ({ instanceId: `never-${i}` }));
    const result = await post(mutation, { input: { workflowName: WORKFLOW, instances } });
    expect(result.errors?.[0]?.extensions).toEqual({ code: 'QUERY_TOO_EXPENSIVE', cost: 61, limit: 60 });
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('refuses a subscription over the limit before it starts polling', async () => {
    const context = createContextFactory({ config: stack.config, upstream: stack.app.upstream, live: stack.app.live });
    const tight = createYoga<Record<string, unknown>, Context>({
      schema,
      context: ({ request }) => context(request),
      logging: false,
      plugins: [useQueryCostLimit({ maxCost: 5 })],
    });
    const query =
      'subscription { instanceUpdated(workflowName: "order-fulfillment", instanceId: "order-1004") { steps { ... on DoStep { output } } } }';
    const response = await tight.fetch('http://127.0.0.1/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query }),
    });
    const body = await response.text();
    expect(body).toContain('"code":"QUERY_TOO_EXPENSIVE","cost":11,"limit":5');
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('lets introspection through whatever the limit', async () => {
    const data = expectData(
      await post<{ __schema: { queryType: { name: string } } }>('{ __schema { queryType { name } } }'),
    );
    expect(data.__schema.queryType.name).toBe('Query');
  });
});

describe('the app with MAX_QUERY_COST', () => {
  it('refuses an operation over maxQueryCost from the config', async () => {
    const small = await startStack({ config: { maxQueryCost: LIMIT } });
    try {
      const result = await small.graphql(PAGE_WITH_PARAMS, { workflowName: WORKFLOW, first: 100 });
      expect(result.errors?.[0]?.extensions).toEqual({ code: 'QUERY_TOO_EXPENSIVE', cost: 101, limit: LIMIT });
      expect(small.upstreamCalls()).toBe(0);
    } finally {
      await small.stop();
    }
  });
});

describe('refused status changes', () => {
  const ERRORED = 95;
  const PAUSES_LIMIT = 100;
  let errored: Stack;
  let ids: string[];
  beforeAll(async () => {
    // No cache of finished instances: each test's pauses are refused upstream, not from what an earlier test learnt.
    errored = await startStack({ listen: true, config: { maxQueryCost: PAUSES_LIMIT, finishedInstanceTtlMs: 0 } });
    ids = Array.from({ length: ERRORED }, (_, i) => `errored-${i}`);
    // Params of the wrong type fail a flaky-import instance before its first step (src/emulator/demo/flaky-import.ts).
    await errored.rest(
      'POST',
      `/${WORKFLOW}/instances/batch`,
      ids.map((id) => ({ instance_id: id, params: { alwaysFail: 'yes' } })),
    );
    for (const id of ids) {
      await errored.emulator.engine.waitForStatus(errored.config.upstream.accountId, WORKFLOW, id, 'errored');
    }
  });
  afterAll(() => errored.stop());

  /** Sends one mutation pausing each of `targets` under its own alias, over HTTP. */
  async function pauseAll(targets: readonly string[]): Promise<GraphQLResult<Record<string, { __typename: string }>>> {
    const pauses = targets
      .map(
        (id, i) => `p${i}: pauseInstance(input: { workflowName: "${WORKFLOW}", instanceId: "${id}" }) { __typename }`,
      )
      .join('\n');
    const response = await fetch(expectPresent(errored.url, 'the gateway URL'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: `mutation {\n${pauses}\n}` }),
    });
    return (await response.json()) as GraphQLResult<Record<string, { __typename: string }>>;
  }

  it('are priced with the lookup each refusal makes, so 95 aliased pauses of errored instances are refused before any call', async () => {
    errored.resetCalls();
    const result = await pauseAll(ids);
    expect(result.errors?.[0]?.extensions).toEqual({
      code: 'QUERY_TOO_EXPENSIVE',
      cost: 2 * ERRORED,
      limit: PAUSES_LIMIT,
    });
    expect(errored.emulator.requests.count()).toBe(0);
  });

  it('run within the limit, making the requests the estimate counted: the refused call and its lookup', async () => {
    const half = ids.slice(0, PAUSES_LIMIT / 2);
    errored.resetCalls();
    const result = expectData(await pauseAll(half));
    expect(new Set(Object.values(result).map((r) => r.__typename))).toEqual(new Set(['InvalidTransitionError']));
    expect(errored.emulator.requests.count({ method: 'PATCH' })).toBe(half.length);
    expect(errored.emulator.requests.count({ method: 'GET' })).toBe(half.length);
  });
});
