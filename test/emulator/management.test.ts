import { describe, expect, it } from 'vitest';
import { createGates, VersionOneWorkflow, VersionTwoWorkflow } from '../fixtures/workflows.js';
import { ACCOUNT, rest, startEmulator } from './support.js';

type Details = { status: string; output: unknown; versionId: string; steps: Record<string, unknown>[] };
type Emulator = Awaited<ReturnType<typeof startEmulator>>;
const details = async (emulator: Emulator, workflow: string, id: string) =>
  (await rest(emulator, 'GET', `/${workflow}/instances/${id}`)).body.result as Details;
const versionIds = async (emulator: Emulator, workflow: string) =>
  ((await rest(emulator, 'GET', `/${workflow}/versions`)).body.result as { id: string; class_name: string }[]).map(
    (v) => v.id,
  );

describe('workflow versions', () => {
  it('adds a version only when the definition changes; instances keep running the class they were created with', async () => {
    const emulator = await startEmulator({
      seedDemoData: false,
      workflows: { VersionOneWorkflow, VersionTwoWorkflow },
    });
    const put = async (body: Record<string, unknown>) =>
      (await rest(emulator, 'PUT', '/versioned', { body: { script_name: 's', ...body } })).body.result as {
        version_id: string;
      };
    const v1 = (await put({ class_name: 'VersionOneWorkflow' })).version_id;
    expect((await put({ class_name: 'VersionOneWorkflow' })).version_id).toBe(v1);
    expect((await put({ class_name: 'VersionOneWorkflow', schedules: [{ cron: '0 4 * * *' }] })).version_id).toBe(v1);
    expect(await versionIds(emulator, 'versioned')).toEqual([v1]);

    await rest(emulator, 'POST', '/versioned/instances', { body: { instance_id: 'old' } });
    const v2 = (await put({ class_name: 'VersionTwoWorkflow' })).version_id;
    expect(v2).not.toBe(v1);
    await rest(emulator, 'POST', '/versioned/instances', { body: { instance_id: 'new' } });
    await emulator.clock.advance(60_000);
    expect(await details(emulator, 'versioned', 'old')).toMatchObject({
      status: 'complete',
      output: 'v1',
      versionId: v1,
    });
    expect(await details(emulator, 'versioned', 'new')).toMatchObject({
      status: 'complete',
      output: 'v2',
      versionId: v2,
    });

    const v3 = (await put({ class_name: 'VersionTwoWorkflow', concurrency: { limit: 5 } })).version_id;
    const v4 = (await put({ class_name: 'VersionTwoWorkflow', concurrency: { limit: 5 }, script_name: 'redeployed' }))
      .version_id;
    expect(new Set([v1, v2, v3, v4]).size).toBe(4);
    expect(await versionIds(emulator, 'versioned')).toEqual([v4, v3, v2, v1]);
    const workflow = (await rest(emulator, 'GET', '/versioned')).body.result as {
      class_name: string;
      script_name: string;
    };
    expect(workflow).toMatchObject({ class_name: 'VersionTwoWorkflow', script_name: 'redeployed' });
  });
});

describe('deleting and terminating instances', () => {
  it('deletes one instance, stopping it and freeing its concurrency slot; the id can be used again', async () => {
    const { GatedWorkflow } = createGates();
    const emulator = await startEmulator({ seedDemoData: false, workflows: { GatedWorkflow } });
    await rest(emulator, 'PUT', '/gated', {
      body: { class_name: 'GatedWorkflow', script_name: 's', concurrency: { limit: 1 } },
    });
    for (const id of ['first', 'second'])
      await rest(emulator, 'POST', '/gated/instances', { body: { instance_id: id } });
    await emulator.engine.waitForStatus(ACCOUNT, 'gated', 'first', 'running');

    const deleted = await rest(emulator, 'DELETE', '/gated/instances/first');
    expect(deleted.status).toBe(200);
    expect(deleted.body.result).toEqual({ instanceId: 'first', timestamp: expect.any(String) });
    await emulator.engine.waitForStatus(ACCOUNT, 'gated', 'second', 'running');
    expect(emulator.engine.concurrency(ACCOUNT)).toEqual({ running: 1, queued: 0 });
    const gone = await rest(emulator, 'GET', '/gated/instances/first');
    expect([gone.status, gone.body.errors[0]?.code]).toEqual([404, 10400]);
    expect((await rest(emulator, 'DELETE', '/gated/instances/first')).status).toBe(404);
    const ids = ((await rest(emulator, 'GET', '/gated/instances')).body.result as { id: string }[]).map((r) => r.id);
    expect(ids).toEqual(['second']);
    expect((await rest(emulator, 'POST', '/gated/instances', { body: { instance_id: 'first' } })).status).toBe(200);
  });

  it('batch-terminates the live instances among the ids, counting each once', async () => {
    const emulator = await startEmulator();
    await rest(emulator, 'POST', '/order-fulfillment/instances', { body: { instance_id: 'bt-1' } });
    await emulator.clock.advance(0);
    const body = ['order-1004', 'bt-1', 'order-1001', 'ghost', 'bt-1'];
    const response = await rest(emulator, 'POST', '/order-fulfillment/instances/batch/terminate', { body });
    expect(response.body.result).toEqual({ instancesTerminated: 2, status: 'ok' });
    for (const id of ['order-1004', 'bt-1']) {
      const d = await details(emulator, 'order-fulfillment', id);
      expect([d.status, d.steps.at(-1)]).toEqual(['terminated', { type: 'termination', trigger: { source: 'api' } }]);
    }
    expect((await details(emulator, 'order-fulfillment', 'order-1001')).status).toBe('complete');

    const bad: [unknown, string][] = [
      [{ instances: ['bt-1'] }, 'must be an array of 1 to 100 instance ids'],
      [[], 'must be an array of 1 to 100 instance ids'],
      [Array.from({ length: 101 }, (_, i) => `i${i}`), 'must be an array of 1 to 100 instance ids'],
      [[42], '[0] must be a string'],
      [['bad id!'], 'Invalid instance id'],
    ];
    for (const [payload, message] of bad) {
      const refused = await rest(emulator, 'POST', '/order-fulfillment/instances/batch/terminate', { body: payload });
      expect([refused.status, refused.body.errors[0]?.message]).toEqual([400, expect.stringContaining(message)]);
    }
  });

  it('runs the terminate-all job, optionally for one status only', async () => {
    const emulator = await startEmulator();
    for (const id of ['ta-1', 'ta-2'])
      await rest(emulator, 'POST', '/order-fulfillment/instances', { body: { instance_id: id } });
    await emulator.clock.advance(0);
    await rest(emulator, 'PATCH', '/order-fulfillment/instances/ta-2/status', { body: { status: 'pause' } });

    expect((await rest(emulator, 'PUT', '/order-fulfillment/instances/terminate?status=waiting')).body.result).toEqual({
      status: 'ok',
    });
    expect((await rest(emulator, 'GET', '/order-fulfillment/instances/terminate')).body.result).toEqual({
      status: 'not_running',
    });
    const statuses = async () =>
      Object.fromEntries(
        (
          (await rest(emulator, 'GET', '/order-fulfillment/instances')).body.result as { id: string; status: string }[]
        ).map((r) => [r.id, r.status]),
      );
    expect(await statuses()).toEqual({
      'ta-2': 'paused',
      'ta-1': 'terminated',
      'order-1004': 'terminated',
      'order-1003': 'terminated',
      'order-1002': 'errored',
      'order-1001': 'complete',
    });

    await rest(emulator, 'PUT', '/order-fulfillment/instances/terminate');
    expect((await statuses())['ta-2']).toBe('terminated');
    const refused = await rest(emulator, 'PUT', '/order-fulfillment/instances/terminate?status=complete');
    expect([refused.status, refused.body.errors[0]?.message]).toEqual([
      400,
      expect.stringContaining('status must be one of queued, running, paused, waitingForPause, waiting'),
    ]);
  });
});

describe('account settings', () => {
  it('reads and patches the default retention, which then applies to finished instances', async () => {
    const emulator = await startEmulator();
    expect((await rest(emulator, 'GET', '/settings')).body.result).toEqual({});
    const patched = await rest(emulator, 'PATCH', '/settings', {
      body: { default_retention: { success_retention: '1 minute', error_retention: 7_200_000 } },
    });
    expect(patched.body.result).toEqual({
      default_retention: { success_retention: 60_000, error_retention: 7_200_000 },
    });
    await rest(emulator, 'PATCH', '/settings', { body: { default_retention: { error_retention: '1 hour' } } });
    expect((await rest(emulator, 'GET', '/settings')).body.result).toEqual({
      default_retention: { success_retention: 60_000, error_retention: 3_600_000 },
    });

    await rest(emulator, 'POST', '/flaky-import/instances', { body: { instance_id: 'kept-briefly' } });
    await emulator.clock.advance(10_000);
    expect((await details(emulator, 'flaky-import', 'kept-briefly')).status).toBe('complete');
    await emulator.clock.advance(60_000);
    expect((await rest(emulator, 'GET', '/flaky-import/instances/kept-briefly')).status).toBe(404);

    const bad: [unknown, string][] = [
      [[], 'The request body must be a JSON object'],
      [
        { default_retention: { success_retention: 'soon' } },
        'default_retention.success_retention must be milliseconds or a duration',
      ],
      [{ default_retention: { forever: true } }, 'default_retention has unknown fields: forever'],
      [{ retention: {} }, 'The settings have no field "retention"'],
    ];
    for (const [payload, message] of bad) {
      const refused = await rest(emulator, 'PATCH', '/settings', { body: payload });
      expect([refused.status, refused.body.errors[0]?.message]).toEqual([400, expect.stringContaining(message)]);
    }
    expect((await rest(emulator, 'GET', '/settings')).body.result).toEqual({
      default_retention: { success_retention: 60_000, error_retention: 3_600_000 },
    });
  });
});
