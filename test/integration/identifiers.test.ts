import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  InstanceIdsDocument,
  WorkflowNameDocument,
  WriteCreateInstanceDocument as CREATE,
  WritePauseInstanceDocument as PAUSE,
  WriteReadInstanceDocument as READ,
  WriteRestartInstanceDocument as RESTART,
  WriteSendInstanceEventDocument as SEND_EVENT,
} from '../generated/operations.js';
import { expectData, expectPresent, expectTypename } from '../helpers/graphql.js';
import { startStack, type Stack } from '../helpers/stack.js';

// Reads (BAD_USER_INPUT), writes (InvalidInputError) and the emulator (a 400 envelope) each report a refused
// identifier their own way; these tests check that they draw the line at the same place, the contract's
// (docs/upstream-contract.md §4.1). Limits are written out as numbers so that the tests do not check
// src/identifiers.ts against itself.

const WF = 'order-fulfillment';
/** A cron-style id of exactly `length` characters: cron characters, then `-<epoch ms>` as Cloudflare names them. */
const cronStyleId = (length: number): string => '*/5 #,'.repeat(60).slice(0, length - 14) + '-1786071600000';
const RESERVED = `cf_${'0123456789abcdef'.repeat(4)}`;

describe('identifier boundaries, read and write side by side', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ config: { upstream: { maxRetries: 0 } } });
  });
  afterAll(() => stack.stop());
  beforeEach(() => stack.resetCalls());

  const read = (id: string, workflowName = WF) => stack.graphql(READ, { workflowName, id });
  const pause = async (instanceId: string, workflowName = WF) =>
    expectData(await stack.graphql(PAUSE, { input: { workflowName, instanceId } })).pauseInstance;

  /** The HTTP status the emulator answers for `GET .../workflows/<path>` (path segments are encoded here). */
  async function upstreamStatus(...segments: string[]): Promise<number> {
    const path = segments.map(encodeURIComponent).join('/');
    const response = await fetch(
      `${stack.emulator.url}/accounts/${stack.config.upstream.accountId}/workflows/${path}`,
      {
        headers: { authorization: `Bearer ${stack.config.upstream.apiToken}` },
      },
    );
    await response.arrayBuffer();
    return response.status;
  }

  it('reads and changes a real cron-created instance with the longest id a cron schedule gives (270 characters)', async () => {
    // A 256-character expression (the longest the contract allows) that fires every minute, with "/" and ",".
    const cron = `*/1,0-59${',0'.repeat(120)} * * * *`;
    expect(cron).toHaveLength(256);
    await stack.rest('PUT', '/long-cron', {
      class_name: 'NightlyReportWorkflow',
      script_name: 'x',
      schedules: [{ cron }],
    });
    await stack.emulator.clock.advance(60_000);

    const listed = expectData(await stack.graphql(InstanceIdsDocument, { workflowName: 'long-cron', first: 1 }));
    const id = expectPresent(listed.workflow?.instances.nodes[0], 'the cron-created instance').instanceId;
    expect(id).toMatch(/^\*\/1,0-59,0.* \* \* \* \*-\d{13}$/);
    expect(id).toHaveLength(270);

    expect(expectData(await read(id, 'long-cron')).instance).toMatchObject({ instanceId: id });
    const paused = expectTypename(await pause(id, 'long-cron'), 'PauseInstancePayload');
    expect(paused.instance?.instanceId).toBe(id);
  });

  it('accepts a 271-character cron-style id on both sides and leaves the answer (not found) to upstream', async () => {
    const id = cronStyleId(271);
    expect(await read(id)).toEqual({ data: { instance: null } });
    expect(stack.upstreamCalls()).toBe(1);
    expect(await pause(id)).toMatchObject({ __typename: 'InstanceNotFoundError', instanceId: id });
    expect(stack.upstreamCalls({ method: 'PATCH' })).toBe(1);
    expect(await upstreamStatus(WF, 'instances', id)).toBe(404);
  });

  it('refuses a 272-character cron-style id on both sides without asking upstream, as upstream would', async () => {
    const id = cronStyleId(272);
    const result = await read(id);
    expect(result.data).toEqual({ instance: null });
    expect(result.errors).toEqual([
      expect.objectContaining({ path: ['instance'], extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) }),
    ]);
    expect(await pause(id)).toMatchObject({ __typename: 'InvalidInputError', path: ['input', 'instanceId'] });
    expect(stack.upstreamCalls()).toBe(0);
    expect(await upstreamStatus(WF, 'instances', id)).toBe(400);
  });

  it.each(['.', '..'])(
    'refuses the path segment %j as an instance id on both sides, so no URL is normalised onto another route',
    async (id) => {
      const result = await read(id);
      expect(result.errors?.[0]).toMatchObject({ path: ['instance'], extensions: { code: 'BAD_USER_INPUT' } });
      expect(await pause(id)).toMatchObject({ __typename: 'InvalidInputError', path: ['input', 'instanceId'] });
      expect(stack.upstreamCalls()).toBe(0);
    },
  );

  it.each(['a.b', 'a"b', 'a?b', 'a%b', 'zahlung-ü', 'a\tb'])(
    'refuses %j, a character no instance id has, on both sides without asking upstream, as upstream would',
    async (id) => {
      const result = await read(id);
      expect(result.errors?.[0]).toMatchObject({ path: ['instance'], extensions: { code: 'BAD_USER_INPUT' } });
      expect(await pause(id)).toMatchObject({ __typename: 'InvalidInputError', path: ['input', 'instanceId'] });
      expect(stack.upstreamCalls()).toBe(0);
      expect(await upstreamStatus(WF, 'instances', id)).toBe(400);
    },
  );

  it('refuses to create a reserved cf_ id but reads and addresses one', async () => {
    const created = expectData(await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: RESERVED } }));
    expect(created.createInstance).toMatchObject({ __typename: 'InvalidInputError', path: ['input', 'instanceId'] });
    expect(stack.upstreamCalls()).toBe(0);
    expect(await read(RESERVED)).toEqual({ data: { instance: null } });
    expect(await pause(RESERVED)).toMatchObject({ __typename: 'InstanceNotFoundError', instanceId: RESERVED });
    expect(stack.upstreamCalls()).toBe(2);
  });

  it('creates, reads and changes a 100-character instance id and refuses to create 101', async () => {
    const id = `${process.pid}-`.padEnd(100, 'x');
    const created = expectData(await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: id } }));
    expect(expectTypename(created.createInstance, 'CreateInstancePayload').instance?.instanceId).toBe(id);
    expect(expectData(await read(id)).instance).toMatchObject({ instanceId: id });
    expect(await pause(id)).toMatchObject({ __typename: 'PauseInstancePayload' });
    stack.resetCalls();
    const refused = expectData(await stack.graphql(CREATE, { input: { workflowName: WF, instanceId: `${id}x` } }));
    expect(refused.createInstance).toMatchObject({ __typename: 'InvalidInputError', path: ['input', 'instanceId'] });
    expect(stack.upstreamCalls()).toBe(0);
  });

  it('reads a 64-character workflow name and refuses 65 on both sides, as upstream would', async () => {
    expect(await stack.graphql(WorkflowNameDocument, { name: 'w'.repeat(64) })).toEqual({ data: { workflow: null } });
    expect(await pause('a', 'w'.repeat(64))).toMatchObject({ __typename: 'WorkflowNotFoundError' });
    expect(stack.upstreamCalls()).toBe(2);
    stack.resetCalls();
    const result = await stack.graphql(WorkflowNameDocument, { name: 'w'.repeat(65) });
    expect(result.errors?.[0]).toMatchObject({ path: ['workflow'], extensions: { code: 'BAD_USER_INPUT' } });
    expect(await pause('a', 'w'.repeat(65))).toMatchObject({
      __typename: 'InvalidInputError',
      path: ['input', 'workflowName'],
    });
    expect(stack.upstreamCalls()).toBe(0);
    expect(await upstreamStatus('w'.repeat(65))).toBe(400);
  });

  it('passes a 100-character event type and a 256-character step name upstream and refuses 101 and 257', async () => {
    const sendEvent = async (type: string) =>
      expectData(await stack.graphql(SEND_EVENT, { input: { workflowName: WF, instanceId: 'no-such', type } }))
        .sendInstanceEvent;
    const restart = async (stepName: string) =>
      expectData(
        await stack.graphql(RESTART, { input: { workflowName: WF, instanceId: 'no-such', from: { stepName } } }),
      ).restartInstance;
    expect(await sendEvent('t'.repeat(100))).toMatchObject({ __typename: 'InstanceNotFoundError' });
    expect(await restart('s'.repeat(256))).toMatchObject({ __typename: 'InstanceNotFoundError' });
    expect(stack.upstreamCalls()).toBe(2);
    stack.resetCalls();
    expect(await sendEvent('t'.repeat(101))).toMatchObject({
      __typename: 'InvalidInputError',
      path: ['input', 'type'],
    });
    expect(await restart('s'.repeat(257))).toMatchObject({
      __typename: 'InvalidInputError',
      path: ['input', 'from', 'stepName'],
    });
    expect(stack.upstreamCalls()).toBe(0);
  });
});
