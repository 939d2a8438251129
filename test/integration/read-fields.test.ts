import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUERY } from '../../src/graphiql.js';
import {
  InstanceAllFieldsDocument,
  InstanceByGlobalIdDocument,
  InstanceGlobalIdDocument,
  InstanceIdsDocument,
  InstanceStepOrdersDocument,
  NodesOfEveryTypeDocument,
  ThreeNodesDocument,
  WorkflowAllFieldsDocument,
  WorkflowGlobalIdsDocument,
} from '../generated/operations.js';
import { expectData, expectPresent } from '../helpers/graphql.js';
import { startStack, type Stack } from '../helpers/stack.js';

/** The part of GraphiQL's default query (src/graphiql.ts) this test reads. */
interface DashboardData {
  workflows: { nodes: { name: string; instances: { nodes: { steps: unknown[] }[] } }[] };
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack.stop());

async function instanceIds(workflow: string): Promise<string[]> {
  const data = expectData(await stack.graphql(InstanceIdsDocument, { workflowName: workflow, first: 100 }));
  return expectPresent(data.workflow, workflow).instances.nodes.map((n) => n.instanceId);
}

async function allFields(workflow: string, id: string) {
  const data = expectData(await stack.graphql(InstanceAllFieldsDocument, { workflowName: workflow, id }));
  return expectPresent(data.instance, `${workflow}/${id}`);
}

describe('the read graph on the demo data', () => {
  it('runs the GraphiQL default query without errors', async () => {
    // Sent as the text GraphiQL shows, not as a generated document: the point is that this exact text runs.
    const data = expectData(await stack.graphql<DashboardData>(DEFAULT_QUERY));
    const names = data.workflows.nodes.map((w) => w.name);
    expect(names).toEqual(
      expect.arrayContaining(['order-fulfillment', 'flaky-import', 'nightly-report', 'booking-saga']),
    );
    const steps = data.workflows.nodes.flatMap((w) => w.instances.nodes.flatMap((i) => i.steps));
    expect(steps.length).toBeGreaterThan(0);
  });

  it('resolves every Workflow and WorkflowVersion field', async () => {
    const data = expectData(await stack.graphql(WorkflowAllFieldsDocument));
    const nightly = expectPresent(
      data.workflows.edges.find((e) => e.node.name === 'nightly-report'),
      'nightly-report',
    ).node;
    expect(nightly.schedules).toEqual([{ cron: '0 3 * * *', nextInstance: expect.any(String) }]);
    expect(nightly.workflowId).toMatch(/^[0-9a-f-]{36}$/);
    // The generated type claims a `__typename` the document does not select (see codegen.ts): only these nine keys arrive.
    const { total, ...counts } = nightly.instanceCounts;
    expect(Object.keys(counts).sort()).toEqual([
      'complete',
      'errored',
      'paused',
      'queued',
      'rollingBack',
      'running',
      'terminated',
      'waiting',
      'waitingForPause',
    ]);
    expect(total).toBe(Object.values(counts).reduce<number>((s, n) => s + Number(n), 0));
    expect(nightly.latestVersion).toMatchObject({ workflow: { name: 'nightly-report' }, language: expect.any(String) });
    expect(nightly.versions.nodes[0]?.versionId).toBe(nightly.latestVersion?.versionId);
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
    const data = expectData(
      await stack.graphql(InstanceStepOrdersDocument, {
        workflowName: 'order-fulfillment',
        id: expectPresent(id, 'an instance id'),
      }),
    );
    const instance = expectPresent(data.instance, 'the instance');
    expect(instance.asc.length).toBeGreaterThan(1);
    expect(instance.desc).toEqual([...instance.asc].reverse());
  });
});

describe('global ids', () => {
  it('refetches every Node type by id, and nodes in order', async () => {
    const listed = expectData(await stack.graphql(WorkflowGlobalIdsDocument, { name: 'nightly-report' }));
    const workflow = expectPresent(listed.workflow, 'the workflow');
    const version = expectPresent(workflow.latestVersion, 'the latest version');
    const instance = expectPresent(workflow.instances.nodes[0], 'an instance');
    const data = expectData(
      await stack.graphql(NodesOfEveryTypeDocument, { w: workflow.id, v: version.id, i: instance.id }),
    );
    expect(data).toEqual({
      w: { id: workflow.id, name: 'nightly-report' },
      v: { id: version.id, versionId: version.versionId, workflow: { name: 'nightly-report' } },
      i: { id: instance.id, instanceId: instance.instanceId, workflowName: 'nightly-report' },
      all: [
        { __typename: 'WorkflowInstance', id: instance.id },
        { __typename: 'Workflow', id: workflow.id },
      ],
    });
  });

  it('round-trips cron instance ids with spaces and slashes', async () => {
    const ids = await instanceIds('nightly-report');
    const cronId = ids.find((id) => id.includes(' '));
    expect(cronId).toBeDefined();
    const first = expectData(
      await stack.graphql(InstanceGlobalIdDocument, {
        workflowName: 'nightly-report',
        id: expectPresent(cronId, 'a cron instance id'),
      }),
    );
    const again = expectData(
      await stack.graphql(InstanceByGlobalIdDocument, { id: expectPresent(first.instance, 'the cron instance').id }),
    );
    expect(again.node).toEqual({ instanceId: cronId });
  });

  it('answers null for ids of things that do not exist', async () => {
    const encode = (text: string) => Buffer.from(text).toString('base64');
    const result = await stack.graphql(ThreeNodesDocument, {
      a: encode('Workflow:no-such-workflow'),
      b: encode('WorkflowInstance:order-fulfillment/no-such-instance'),
      c: encode('WorkflowVersion:order-fulfillment/00000000-0000-4000-8000-000000000000'),
    });
    expect(result).toEqual({ data: { a: null, b: null, c: null } });
  });

  it('refuses malformed ids and ids of unknown types with an error', async () => {
    const encode = (text: string) => Buffer.from(text).toString('base64');
    const result = await stack.graphql(ThreeNodesDocument, {
      a: 'not base64!',
      b: encode('NoSuchType:x'),
      c: encode('WorkflowInstance:no-slash'),
    });
    expect(result.data).toEqual({ a: null, b: null, c: null });
    const byPath = Object.fromEntries((result.errors ?? []).map((e) => [e.path?.[0], e]));
    expect(byPath.a?.message).toMatch(/Invalid global ID/);
    // A type name that is not a Node type is as malformed as an id that is not base64.
    expect(byPath.b).toMatchObject({
      message: expect.stringMatching(/Invalid global ID/),
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(byPath.c).toMatchObject({
      message: 'Not a valid WorkflowInstance id',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });
});
