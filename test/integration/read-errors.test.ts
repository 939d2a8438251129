import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  InstanceIdsDocument,
  MissingLookupsDocument,
  WorkflowAndInstanceDocument,
  WorkflowCountDocument,
  WorkflowNameDocument,
} from '../generated/operations.js';
import { expectData, expectPresent } from '../helpers/graphql.js';
import { startStack, type Stack } from '../helpers/stack.js';

const DETAILS = /\/instances\/\{instance_id\}$/;
const TOKEN = 'read-errors-secret-token-0123456789';

async function anyInstanceId(stack: Stack, workflow: string): Promise<string> {
  const data = expectData(await stack.graphql(InstanceIdsDocument, { workflowName: workflow, first: 1 }));
  return expectPresent(data.workflow?.instances.nodes[0], `an instance of ${workflow}`).instanceId;
}

describe('upstream failures', () => {
  let stack: Stack;
  let id: string;
  beforeAll(async () => {
    // No retries: each injected fault surfaces at once.
    stack = await startStack({ config: { upstream: { maxRetries: 0, apiToken: TOKEN } } });
    id = await anyInstanceId(stack, 'order-fulfillment');
  });
  afterAll(() => stack.stop());
  beforeEach(() => stack.emulator.faults.clear());

  const query = () => stack.graphql(WorkflowAndInstanceDocument, { workflowName: 'order-fulfillment', id });

  it('maps a 5xx to UPSTREAM_UNAVAILABLE and keeps the rest of the data', async () => {
    stack.emulator.faults.set({ route: DETAILS, errorRate: 1 });
    const result = await query();
    expect(result.data?.workflow).toEqual({ name: 'order-fulfillment', className: expect.any(String) });
    expect(result.data?.instance).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]).toMatchObject({ path: ['instance'], extensions: { code: 'UPSTREAM_UNAVAILABLE' } });
  });

  it('maps a malformed upstream body to UPSTREAM_ERROR without echoing it', async () => {
    stack.emulator.faults.set({ route: DETAILS, malformed: 1 });
    const result = await query();
    expect(result.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    expect(result.data?.workflow?.name).toBe('order-fulfillment');
  });

  it('returns null, not an error, for unknown workflows and instances', async () => {
    const result = await stack.graphql(MissingLookupsDocument, {
      missingWorkflow: 'no-such-workflow',
      workflowName: 'order-fulfillment',
      missingId: 'no-such-instance',
    });
    expect(result).toEqual({ data: { workflow: null, instance: null, other: null } });
  });

  it('refuses malformed names with BAD_USER_INPUT before calling upstream', async () => {
    stack.resetCalls();
    const result = await stack.graphql(WorkflowNameDocument, { name: 'bad name!' });
    expect(result.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, path: ['workflow'] });
    expect(stack.upstreamCalls()).toBe(0);
  });
});

describe('upstream rate limiting', () => {
  // Its own stack: a 429 drains the client's budget for this credential until Retry-After.
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ config: { upstream: { maxRetries: 0 } } });
  });
  afterAll(() => stack.stop());

  it('maps a 429 to RATE_LIMITED with retryAfter in seconds and keeps the rest of the data', async () => {
    const workflow = await stack.graphql(WorkflowNameDocument, { name: 'order-fulfillment' });
    expect(workflow.errors).toBeUndefined();
    stack.emulator.faults.set({ route: DETAILS, rateLimitRate: 1 });
    const result = await stack.graphql(WorkflowAndInstanceDocument, {
      workflowName: 'order-fulfillment',
      id: 'order-1001',
    });
    expect(result.data).toEqual({
      workflow: { name: 'order-fulfillment', className: expect.any(String) },
      instance: null,
    });
    expect(result.errors).toHaveLength(1);
    expect(result.errors?.[0]).toMatchObject({
      path: ['instance'],
      extensions: { code: 'RATE_LIMITED', retryAfter: expect.any(Number) },
    });
    expect(result.errors?.[0]?.extensions?.retryAfter).toBeGreaterThanOrEqual(1);
  });
});

describe('credentials refused upstream', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      emulator: { apiToken: 'the-only-accepted-token' },
      config: { upstream: { maxRetries: 0, apiToken: TOKEN } },
    });
  });
  afterAll(() => stack.stop());

  it('maps them to UPSTREAM_ERROR with the Cloudflare codes and without the token', async () => {
    const result = await stack.graphql(WorkflowCountDocument);
    expect(result.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    const codes = (result.errors?.[0]?.extensions?.cloudflareErrors as { code: number }[]).map((e) => e.code);
    expect(codes.some((c) => c === 9106 || c === 10000)).toBe(true);
    expect(JSON.stringify(result)).not.toContain(TOKEN);
  });
});

describe('production masking', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ config: { production: true, upstream: { maxRetries: 0, apiToken: TOKEN } } });
  });
  afterAll(() => stack.stop());

  it('keeps coded errors but shows no stack, upstream body or token', async () => {
    stack.emulator.faults.set({ malformed: 1 });
    const result = await stack.graphql(WorkflowCountDocument);
    stack.emulator.faults.clear();
    expect(result.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    const text = JSON.stringify(result);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toMatch(/stack|originalError|\bat .+\.ts:\d+/);
    // The emulator's fault sent half of a real envelope: none of it may be echoed.
    expect(text).not.toMatch(/"success"|script_name|class_name/);
  });

  it('answers bad ids with a clear message and nothing internal', async () => {
    // A literal id, not a variable: the message must quote exactly what a hand-written query sent.
    const result = await stack.graphql('{ node(id: "!!!") { id } }');
    expect(result).toEqual({
      data: { node: null },
      errors: [expect.objectContaining({ message: 'Invalid global ID: !!!', path: ['node'] })],
    });
  });
});
