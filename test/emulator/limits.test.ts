import { describe, expect, it, vi } from 'vitest';
import { createGates, ManyStepsWorkflow } from '../fixtures/workflows.js';
import { ACCOUNT, rest, startEmulator } from './support.js';

type Details = { status: string; output: unknown; error: { name: string; message: string } | null; step_count: number };
const details = async (emulator: Awaited<ReturnType<typeof startEmulator>>, workflow: string, id: string) =>
  (await rest(emulator, 'GET', `/${workflow}/instances/${id}?simple=true`)).body.result as Details;

describe('production limits', () => {
  it('stops an instance at the default of 10,000 steps', async () => {
    const emulator = await startEmulator({ seedDemoData: false, workflows: { ManyStepsWorkflow } });
    await rest(emulator, 'PUT', '/many', { body: { class_name: 'ManyStepsWorkflow', script_name: 's' } });
    await rest(emulator, 'POST', '/many/instances', { body: { instance_id: 'over', params: { steps: 10_001 } } });
    await emulator.engine.waitForStatus(ACCOUNT, 'many', 'over', 'errored', { timeoutMs: 30_000 });
    const d = await details(emulator, 'many', 'over');
    expect(d.step_count).toBe(10_000);
    expect(d.error).toEqual({
      name: 'NonRetryableError',
      message:
        'The limit of 10000 steps has been reached. Reduce the number of steps in the workflow or raise limits.steps.',
    });
  }, 40_000);

  it('applies limits.steps from the workflow definition, which a later version can raise', async () => {
    const emulator = await startEmulator({ seedDemoData: false, workflows: { ManyStepsWorkflow } });
    await rest(emulator, 'PUT', '/many', {
      body: { class_name: 'ManyStepsWorkflow', script_name: 's', limits: { steps: 3 } },
    });
    await rest(emulator, 'POST', '/many/instances', { body: { instance_id: 'three', params: { steps: 3 } } });
    await rest(emulator, 'POST', '/many/instances', { body: { instance_id: 'four', params: { steps: 4 } } });
    await emulator.clock.advance(0);
    expect((await details(emulator, 'many', 'three')).status).toBe('complete');
    const four = await details(emulator, 'many', 'four');
    expect([four.status, four.step_count, four.error?.message]).toEqual([
      'errored',
      3,
      expect.stringMatching(/^The limit of 3 steps has been reached/),
    ]);

    await rest(emulator, 'PUT', '/many', {
      body: { class_name: 'ManyStepsWorkflow', script_name: 's', limits: { steps: 4 } },
    });
    await rest(emulator, 'POST', '/many/instances', { body: { instance_id: 'four-again', params: { steps: 4 } } });
    await emulator.clock.advance(0);
    expect((await details(emulator, 'many', 'four-again')).status).toBe('complete');
    const tooMany = await rest(emulator, 'PUT', '/many', {
      body: { class_name: 'ManyStepsWorkflow', script_name: 's', limits: { steps: 25_001 } },
    });
    expect([tooMany.status, tooMany.body.errors[0]?.message]).toEqual([
      400,
      'limits.steps must be an integer between 1 and 25000',
    ]);
  });

  it('queues instances beyond the account-wide concurrency limit; waiting instances hold no slot', async () => {
    const { GatedWorkflow, open } = createGates();
    const emulator = await startEmulator({
      seedDemoData: false,
      workflows: { GatedWorkflow },
      limits: { accountConcurrency: 2 },
    });
    await rest(emulator, 'PUT', '/gated-a', { body: { class_name: 'GatedWorkflow', script_name: 's' } });
    await rest(emulator, 'PUT', '/gated-b', { body: { class_name: 'GatedWorkflow', script_name: 's' } });
    const status = (workflow: string, id: string) => emulator.engine.instance(ACCOUNT, workflow, id)?.status;
    for (const id of ['a1', 'a2']) await rest(emulator, 'POST', '/gated-a/instances', { body: { instance_id: id } });
    await emulator.engine.waitForStatus(ACCOUNT, 'gated-a', 'a2', 'running');
    await rest(emulator, 'POST', '/gated-b/instances', { body: { instance_id: 'b1' } });
    await rest(emulator, 'POST', '/gated-a/instances', { body: { instance_id: 'a3' } });
    await vi.waitUntil(() => emulator.engine.concurrency(ACCOUNT).queued === 2, { timeout: 5000 });
    expect(emulator.engine.concurrency(ACCOUNT)).toEqual({ running: 2, queued: 2 });
    expect([
      status('gated-a', 'a1'),
      status('gated-a', 'a2'),
      status('gated-b', 'b1'),
      status('gated-a', 'a3'),
    ]).toEqual(['running', 'running', 'queued', 'queued']);

    // a1 goes to sleep (waiting): its slot goes to the oldest queued instance, in another workflow.
    open('a1');
    await emulator.engine.waitForStatus(ACCOUNT, 'gated-a', 'a1', 'waiting');
    await emulator.engine.waitForStatus(ACCOUNT, 'gated-b', 'b1', 'running');
    expect(status('gated-a', 'a3')).toBe('queued');
    // A paused instance frees its slot too.
    await rest(emulator, 'PATCH', '/gated-a/instances/a2/status', { body: { status: 'pause' } });
    open('a2');
    await emulator.engine.waitForStatus(ACCOUNT, 'gated-a', 'a2', 'paused');
    await emulator.engine.waitForStatus(ACCOUNT, 'gated-a', 'a3', 'running');

    const overLimit = await rest(emulator, 'PUT', '/gated-c', {
      body: { class_name: 'GatedWorkflow', script_name: 's', concurrency: { limit: 3 } },
    });
    expect([overLimit.status, overLimit.body.errors[0]?.message]).toEqual([
      400,
      'concurrency.limit must be an integer between 1 and 2',
    ]);
  });

  it('grants queued instances a slot as soon as a PUT raises the workflow concurrency limit', async () => {
    const { GatedWorkflow } = createGates();
    const emulator = await startEmulator({ seedDemoData: false, workflows: { GatedWorkflow } });
    await rest(emulator, 'PUT', '/gated', {
      body: { class_name: 'GatedWorkflow', script_name: 's', concurrency: { limit: 1 } },
    });
    for (const id of ['g1', 'g2']) await rest(emulator, 'POST', '/gated/instances', { body: { instance_id: id } });
    await emulator.engine.waitForStatus(ACCOUNT, 'gated', 'g1', 'running');
    await vi.waitUntil(() => emulator.engine.concurrency(ACCOUNT).queued === 1, { timeout: 5000 });
    expect(emulator.engine.instance(ACCOUNT, 'gated', 'g2')?.status).toBe('queued');
    await rest(emulator, 'PUT', '/gated', {
      body: { class_name: 'GatedWorkflow', script_name: 's', concurrency: { limit: 2 } },
    });
    await emulator.engine.waitForStatus(ACCOUNT, 'gated', 'g2', 'running');
  });

  it('limits the instance creation rate when asked to: creates, batch items and restarts count', async () => {
    const emulator = await startEmulator({ creationRateLimit: { perWorkflow: 3, perAccount: 4 } });
    const create = (workflow: string, id: string) =>
      rest(emulator, 'POST', `/${workflow}/instances`, { body: { instance_id: id } });
    const batch = await rest(emulator, 'POST', '/flaky-import/instances/batch', {
      body: [{ instance_id: 'r1' }, { instance_id: 'r2' }, { instance_id: 'r1' }],
    });
    expect((batch.body.result as unknown[]).length).toBe(2);
    expect((await create('flaky-import', 'r3')).status).toBe(200);
    const perWorkflow = await create('flaky-import', 'r4');
    expect([perWorkflow.status, perWorkflow.headers.get('retry-after'), perWorkflow.body.errors[0]?.code]).toEqual([
      429,
      '1',
      971,
    ]);
    expect(perWorkflow.body.errors[0]?.message).toContain(
      'more than 3 instance creations per second for workflow "flaky-import"',
    );
    const restart = await rest(emulator, 'PATCH', '/flaky-import/instances/import-2024-01/status', {
      body: { status: 'restart' },
    });
    expect(restart.status).toBe(429);
    expect((await create('order-fulfillment', 'o1')).status).toBe(200);
    const perAccount = await create('order-fulfillment', 'o2');
    expect([perAccount.status, perAccount.body.errors[0]?.message]).toEqual([
      429,
      expect.stringContaining('more than 4 instance creations per second for this account'),
    ]);
    // Nothing was created by the refused calls; a second later the budget is back.
    expect(emulator.engine.instance(ACCOUNT, 'flaky-import', 'r4')).toBeUndefined();
    await emulator.clock.advance(1000);
    expect((await create('flaky-import', 'r4')).status).toBe(200);
  });
});
