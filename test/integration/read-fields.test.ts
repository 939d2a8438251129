import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUERY } from '../../src/graphiql.js';
import { startStack, type Stack } from '../helpers/stack.js';

const operation = (name: string) => readFileSync(new URL(`../operations/read/${name}.graphql`, import.meta.url), 'utf8');
const INSTANCE_ALL = operation('instance-all-fields');
const WORKFLOW_ALL = operation('workflow-all-fields');

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

async function instanceIds(workflow: string): Promise<string[]> {
  const result = await stack.graphql(`{ workflow(name: "${workflow}") { instances(first: 100) { nodes { instanceId } } } }`);
  expect(result.errors).toBeUndefined();
  return result.data.workflow.instances.nodes.map((n: { instanceId: string }) => n.instanceId);
}

async function allFields(workflow: string, id: string) {
  const result = await stack.graphql(INSTANCE_ALL, { workflowName: workflow, id });
  expect(result.errors).toBeUndefined();
  return result.data.instance;
}

describe('the read graph on the demo data', () => {
  it('runs the GraphiQL default query without errors', async () => {
    const result = await stack.graphql(DEFAULT_QUERY);
    expect(result.errors).toBeUndefined();
    const names = result.data.workflows.nodes.map((w: { name: string }) => w.name);
    expect(names).toEqual(expect.arrayContaining(['order-fulfillment', 'flaky-import', 'nightly-report', 'booking-saga']));
    const steps = result.data.workflows.nodes.flatMap((w: { instances: { nodes: { steps: unknown[] }[] } }) => w.instances.nodes.flatMap((i) => i.steps));
    expect(steps.length).toBeGreaterThan(0);
  });

  it('resolves every Workflow and WorkflowVersion field', async () => {
    const result = await stack.graphql(WORKFLOW_ALL);
    expect(result.errors).toBeUndefined();
    const nightly = result.data.workflows.edges.find((e: { node: { name: string } }) => e.node.name === 'nightly-report').node;
    expect(nightly.schedules).toEqual([{ cron: '0 3 * * *', nextInstance: expect.any(String) }]);
    expect(nightly.workflowId).toMatch(/^[0-9a-f-]{36}$/);
    expect(nightly.instanceCounts.total).toBe(
      ['queued', 'running', 'paused', 'errored', 'terminated', 'complete', 'waitingForPause', 'waiting', 'rollingBack'].reduce((s, k) => s + nightly.instanceCounts[k], 0),
    );
    expect(nightly.latestVersion).toMatchObject({ workflow: { name: 'nightly-report' }, language: expect.any(String) });
    expect(nightly.versions.nodes[0].versionId).toBe(nightly.latestVersion.versionId);
    expect(nightly.instances.totalCount).toBeGreaterThan(0);
  });

  it('resolves every instance and step field, with full outputs from the step endpoint', async () => {
    const seen = new Set<string>();
    let truncated = false;
    let redacted = false;
    let payload = false;
    for (const workflow of ['order-fulfillment', 'flaky-import', 'nightly-report', 'booking-saga']) {
      for (const id of await instanceIds(workflow)) {
        const instance = await allFields(workflow, id);
        expect(instance).toMatchObject({ instanceId: id, workflowName: workflow, workflow: { name: workflow } });
        expect(instance.stepCount).toBeGreaterThanOrEqual(0);
        for (const step of instance.steps) {
          seen.add(step.__typename);
          if (step.__typename === 'DoStep') {
            expect(step.name).toBe(`${step.baseName}-${step.count}`);
            if (step.outputPreview?.endsWith('[truncated output]')) {
              truncated = true;
              expect(JSON.stringify(step.output).length).toBeGreaterThan(1024);
            }
            if (step.isSensitive && step.success) {
              redacted = true;
              expect(step.output).toBe('[REDACTED]');
            }
          }
          if (step.__typename === 'WaitForEventStep' && step.finished && step.payload !== null) payload = true;
        }
      }
    }
    expect([...seen].sort()).toEqual(expect.arrayContaining(['DoStep', 'SleepStep', 'WaitForEventStep']));
    expect({ truncated, redacted, payload }).toEqual({ truncated: true, redacted: true, payload: true });
  });

  it('orders steps newest first on request', async () => {
    const [id] = await instanceIds('order-fulfillment');
    const result = await stack.graphql(`query ($id: String!) { instance(workflowName: "order-fulfillment", id: $id) {
      asc: steps { name startedOn } desc: steps(order: DESC) { name startedOn } } }`, { id });
    expect(result.errors).toBeUndefined();
    expect(result.data.instance.desc).toEqual([...result.data.instance.asc].reverse());
  });
});

describe('global ids', () => {
  it('refetches every Node type by id, and nodes in order', async () => {
    const listed = await stack.graphql(`{ workflow(name: "nightly-report") { id name latestVersion { id versionId }
      instances(first: 1) { nodes { id instanceId } } } }`);
    expect(listed.errors).toBeUndefined();
    const workflow = listed.data.workflow;
    const instance = workflow.instances.nodes[0];
    const result = await stack.graphql(`query ($w: ID!, $v: ID!, $i: ID!) {
      w: node(id: $w) { id ... on Workflow { name } }
      v: node(id: $v) { id ... on WorkflowVersion { versionId workflow { name } } }
      i: node(id: $i) { id ... on WorkflowInstance { instanceId workflowName } }
      all: nodes(ids: [$i, $w]) { __typename id }
    }`, { w: workflow.id, v: workflow.latestVersion.id, i: instance.id });
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      w: { id: workflow.id, name: 'nightly-report' },
      v: { id: workflow.latestVersion.id, versionId: workflow.latestVersion.versionId, workflow: { name: 'nightly-report' } },
      i: { id: instance.id, instanceId: instance.instanceId, workflowName: 'nightly-report' },
      all: [{ __typename: 'WorkflowInstance', id: instance.id }, { __typename: 'Workflow', id: workflow.id }],
    });
  });

  it('round-trips cron instance ids with spaces and slashes', async () => {
    const ids = await instanceIds('nightly-report');
    const cronId = ids.find((id) => id.includes(' '));
    expect(cronId).toBeDefined();
    const first = await stack.graphql(`query ($id: String!) { instance(workflowName: "nightly-report", id: $id) { id } }`, { id: cronId });
    const again = await stack.graphql(`query ($id: ID!) { node(id: $id) { ... on WorkflowInstance { instanceId } } }`, { id: first.data.instance.id });
    expect(again.data.node.instanceId).toBe(cronId);
  });

  it('answers null for ids of things that do not exist', async () => {
    const encode = (text: string) => Buffer.from(text).toString('base64');
    const result = await stack.graphql(`query ($a: ID!, $b: ID!, $c: ID!) { a: node(id: $a) { id } b: node(id: $b) { id } c: node(id: $c) { id } }`, {
      a: encode('Workflow:no-such-workflow'),
      b: encode('WorkflowInstance:order-fulfillment/no-such-instance'),
      c: encode('WorkflowVersion:order-fulfillment/00000000-0000-4000-8000-000000000000'),
    });
    expect(result).toEqual({ data: { a: null, b: null, c: null } });
  });

  it('refuses malformed ids and ids of unknown types with an error', async () => {
    const encode = (text: string) => Buffer.from(text).toString('base64');
    const result = await stack.graphql(`query ($a: ID!, $b: ID!, $c: ID!) { a: node(id: $a) { id } b: node(id: $b) { id } c: node(id: $c) { id } }`, {
      a: 'not base64!',
      b: encode('NoSuchType:x'),
      c: encode('WorkflowInstance:no-slash'),
    });
    expect(result.data).toEqual({ a: null, b: null, c: null });
    const byPath = Object.fromEntries((result.errors ?? []).map((e) => [e.path?.[0], e]));
    expect(byPath.a?.message).toMatch(/Invalid global ID/);
    expect(byPath.b?.message).toMatch(/NoSuchType/);
    expect(byPath.c).toMatchObject({ message: 'Not a valid WorkflowInstance id', extensions: { code: 'BAD_USER_INPUT' } });
  });
});
