import { parse, type DocumentNode } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshId } from '../helpers/instances.js';
import { subscribe, wsClient } from '../helpers/live.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// A subscription's poll loop fetches instance details only when the event's `instance` selects a field that
// needs them: the fields' declared sources decide (src/graphql/field-source.ts), as graphql-js runs the
// selection (`@skip`/`@include` honoured).
const WORKFLOW = 'order-fulfillment';
const LIST_READS = { method: 'GET', route: 'GET /accounts/{account_id}/workflows/{workflow_name}/instances' };
const DETAIL_READS = {
  method: 'GET',
  route: 'GET /accounts/{account_id}/workflows/{workflow_name}/instances/{instance_id}',
};

type Event = { workflowInstancesChanged: { status: string; instance: Record<string, unknown> } };

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ listen: true, config: { pollIntervalMs: 50 } });
});
afterAll(() => stack.stop());

/** Subscribes with `instanceSelection`, creates an instance behind the gateway's back, returns its event and the details reads. */
async function detailReadsFor(instanceSelection: string): Promise<{ event: Event; detailReads: number }> {
  const document: DocumentNode = parse(
    `subscription { workflowInstancesChanged(workflowName: "${WORKFLOW}") { status instance { ${instanceSelection} } } }`,
  );
  const sub = subscribe(wsClient(stack), document as TypedDocumentNode<Event, Record<string, never>>, {});
  stack.resetCalls();
  await waitFor(() => stack.upstreamCalls(LIST_READS) > 0, { message: 'the baseline list' });
  stack.resetCalls();
  const instanceId = freshId('needs');
  // Created through the emulator's REST API, so only the poll loop can notice it.
  await stack.rest('POST', `/${WORKFLOW}/instances`, { instance_id: instanceId });
  await waitFor(() => sub.results.some((r) => r.data?.workflowInstancesChanged.instance['instanceId'] === instanceId), {
    message: `the event of ${instanceId}`,
  });
  sub.unsubscribe();
  const event = sub.results.find((r) => r.data?.workflowInstancesChanged.instance['instanceId'] === instanceId)?.data;
  if (!event) throw new Error('no event');
  return { event, detailReads: stack.upstreamCalls(DETAIL_READS) };
}

describe('what a workflow subscription reads per new instance', () => {
  it('reads its details when the event selects a details field', async () => {
    const { event, detailReads } = await detailReadsFor('instanceId params');
    expect(event.workflowInstancesChanged.instance).toHaveProperty('params');
    expect(detailReads).toBeGreaterThan(0);
  });

  it("reads no details when the event selects only the instance's key and its workflow's name", async () => {
    const { event, detailReads } = await detailReadsFor('instanceId workflowName workflow { name }');
    expect(event.workflowInstancesChanged.instance['workflow']).toEqual({ name: WORKFLOW });
    expect(detailReads).toBe(0);
  });

  it('reads no details when the only details field is skipped', async () => {
    const { event, detailReads } = await detailReadsFor('instanceId params @skip(if: true)');
    expect(event.workflowInstancesChanged.instance).not.toHaveProperty('params');
    expect(detailReads).toBe(0);
  });
});
