import { describe, expect, it } from 'vitest';
import {
  NonRetryableError,
  WorkflowEntrypoint,
  type WorkflowEvent,
  type WorkflowStep,
} from '../../src/emulator/engine/model.js';
import { ACCOUNT, rest, startEmulator } from './support.js';

type Details = {
  status: string;
  output: unknown;
  error: { name: string; message: string } | null;
  rollback: unknown;
  steps: Record<string, unknown>[];
};
const details = async (emulator: Awaited<ReturnType<typeof startEmulator>>, workflow: string, id: string) =>
  (await rest(emulator, 'GET', `/${workflow}/instances/${id}`)).body.result as Details;
const create = async (emulator: Awaited<ReturnType<typeof startEmulator>>, workflow: string, body: unknown) => {
  const response = await rest(emulator, 'POST', `/${workflow}/instances`, { body });
  expect(response.status).toBe(200);
  return response.body.result as { id: string; status: string };
};
const status = (emulator: Awaited<ReturnType<typeof startEmulator>>, workflow: string, id: string, body: unknown) =>
  rest(emulator, 'PATCH', `/${workflow}/instances/${id}/status`, { body });

describe('demo workflows on the manual clock', () => {
  it('order-fulfillment: sleeps, waits for payment-approved, then ships; a refusal fails it', async () => {
    const emulator = await startEmulator();
    await create(emulator, 'order-fulfillment', { instance_id: 'o-ok', params: { orderId: 'o-ok' } });
    await emulator.clock.advance(0);
    let d = await details(emulator, 'order-fulfillment', 'o-ok');
    expect(d.status).toBe('waiting');
    expect(d.steps.map((s) => `${s.type}:${s.name}`)).toEqual([
      'step:validate-order-1',
      'step:reserve-inventory-1',
      'step:charge-card-1',
      'sleep:cool-off-1',
    ]);
    const reserve = d.steps[1]!;
    expect(typeof reserve.output).toBe('string');
    expect((reserve.output as string).length).toBe(1024 + '[truncated output]'.length);
    expect(reserve.output).toMatch(/\[truncated output\]$/);
    expect(d.steps[2]!.output).toBe('[REDACTED]');
    const full = await rest(
      emulator,
      'GET',
      '/order-fulfillment/instances/o-ok/step?name=reserve-inventory-1&type=step',
    );
    expect((full.body.result as { output: { pickList: unknown[] } }).output.pickList).toHaveLength(24);

    // An event sent before the wait starts is kept for it.
    await rest(emulator, 'POST', '/order-fulfillment/instances/o-ok/events/payment-approved', {
      body: { approved: true },
    });
    await emulator.clock.advance(60_000);
    d = await details(emulator, 'order-fulfillment', 'o-ok');
    expect(d.status).toBe('complete');
    expect(d.output).toMatchObject({ orderId: 'o-ok', status: 'shipped' });
    const wait = d.steps.find((s) => s.type === 'waitForEvent')!;
    expect(wait).toMatchObject({
      name: 'await-payment-approval-1',
      finished: true,
      event_type: 'payment-approved',
      output: { approved: true },
    });

    await create(emulator, 'order-fulfillment', { instance_id: 'o-no' });
    await emulator.clock.advance(61_000);
    expect((await details(emulator, 'order-fulfillment', 'o-no')).status).toBe('waiting');
    await rest(emulator, 'POST', '/order-fulfillment/instances/o-no/events/payment-approved', {
      body: { approved: false },
    });
    await emulator.clock.advance(0);
    d = await details(emulator, 'order-fulfillment', 'o-no');
    expect(d.status).toBe('errored');
    expect(d.error).toEqual({ name: 'NonRetryableError', message: 'Payment for order o-no was not approved' });
  });

  it('order-fulfillment: the wait times out after an hour', async () => {
    const emulator = await startEmulator();
    await create(emulator, 'order-fulfillment', { instance_id: 'o-late' });
    await emulator.clock.advance(61 * 60_000 + 1);
    const d = await details(emulator, 'order-fulfillment', 'o-late');
    expect(d.status).toBe('errored');
    expect(d.steps.at(-1)).toMatchObject({
      type: 'waitForEvent',
      finished: true,
      error: { name: 'WorkflowTimeoutError' },
    });
  });

  it('flaky-import: two failed attempts with exponential backoff, then success; alwaysFail exhausts the retries', async () => {
    const emulator = await startEmulator();
    await create(emulator, 'flaky-import', { instance_id: 'i-ok' });
    await emulator.clock.advance(0);
    expect((await details(emulator, 'flaky-import', 'i-ok')).status).toBe('waiting');
    await emulator.clock.advance(2000);
    let d = await details(emulator, 'flaky-import', 'i-ok');
    expect((d.steps[1]!.attempts as unknown[]).length).toBe(2);
    expect(d.status).toBe('waiting');
    const between = await rest(emulator, 'GET', '/flaky-import/instances/i-ok/step?name=fetch-batch-1&type=step');
    expect(between.body.result).toMatchObject({
      status: 'running',
      error: { message: expect.stringContaining('attempt 2') },
    });
    await emulator.clock.advance(4000);
    d = await details(emulator, 'flaky-import', 'i-ok');
    expect(d.status).toBe('complete');
    const attempts = d.steps[1]!.attempts as { start: string; success: boolean }[];
    expect(attempts.map((a) => a.success)).toEqual([false, false, true]);
    expect(Date.parse(attempts[1]!.start) - Date.parse(attempts[0]!.start)).toBe(2000);
    expect(Date.parse(attempts[2]!.start) - Date.parse(attempts[1]!.start)).toBe(4000);

    await create(emulator, 'flaky-import', { instance_id: 'i-bad', params: { alwaysFail: true } });
    await emulator.clock.advance(60_000);
    d = await details(emulator, 'flaky-import', 'i-bad');
    expect(d.status).toBe('errored');
    expect((d.steps[1]!.attempts as unknown[]).length).toBe(4);
    expect(d.error?.message).toContain('attempt 4');
  });

  it('nightly-report: the cron schedule creates cron-id instances that sleep for hours', async () => {
    const emulator = await startEmulator();
    await rest(emulator, 'GET', '');
    const now = emulator.clock.now();
    const next =
      Math.floor(now / 86_400_000) * 86_400_000 + 3 * 3_600_000 + (now % 86_400_000 >= 3 * 3_600_000 ? 86_400_000 : 0);
    await emulator.clock.advance(next - now + 1000);
    const id = `0 3 * * *-${next}`;
    const path = `/nightly-report/instances/${encodeURIComponent(id)}`;
    let d = (await rest(emulator, 'GET', path)).body.result as Details & { trigger: unknown; schedule: unknown };
    expect(d).toMatchObject({
      status: 'waiting',
      trigger: { source: 'cron' },
      schedule: { cron: '0 3 * * *', scheduledTime: next },
    });
    await emulator.clock.advance(3 * 3_600_000);
    d = (await rest(emulator, 'GET', path)).body.result as never;
    expect(d.status).toBe('complete');
    expect(d.steps.map((s) => s.name)).toEqual([
      'collect-metrics-1',
      'wait-for-batch-window-1',
      'render-report-1',
      'embargo-1',
      'publish-report-1',
    ]);
  });

  it('booking-saga: a failure rolls back through rollingBack; terminate with rollback does too', async () => {
    const emulator = await startEmulator();
    await create(emulator, 'booking-saga', { instance_id: 'b-fail', params: { failAt: 'payment' } });
    const seen = new Set<string>();
    emulator.engine.waitForStatus(ACCOUNT, 'booking-saga', 'b-fail', 'rollingBack').then(
      (s) => seen.add(s),
      () => {},
    );
    await emulator.clock.advance(10 * 60_000);
    let d = await details(emulator, 'booking-saga', 'b-fail');
    expect(d.status).toBe('errored');
    expect(seen.has('rollingBack')).toBe(true);
    expect(d.rollback).toEqual({ outcome: 'complete', error: null });
    expect(d.steps.filter((s) => s.type === 'rollback').map((s) => s.name)).toEqual([
      'reserve-car-1',
      'reserve-hotel-1',
      'reserve-flight-1',
    ]);

    await create(emulator, 'booking-saga', { instance_id: 'b-stop' });
    await emulator.clock.advance(60_000);
    const response = await status(emulator, 'booking-saga', 'b-stop', { status: 'terminate', rollback: true });
    expect((response.body.result as { status: string }).status).toBe('rollingBack');
    await emulator.clock.advance(0);
    d = await details(emulator, 'booking-saga', 'b-stop');
    expect(d.status).toBe('terminated');
    expect(d.steps.at(-1)).toEqual({ type: 'termination', trigger: { source: 'api' } });
    expect(d.rollback).toEqual({ outcome: 'complete', error: null });
  });
});

describe('engine lifecycle', () => {
  it('pause keeps the remaining sleep; resume replays finished steps from the log', async () => {
    const emulator = await startEmulator();
    await create(emulator, 'nightly-report', { instance_id: 'n-1' });
    await emulator.clock.advance(30 * 60_000);
    expect((await status(emulator, 'nightly-report', 'n-1', { status: 'pause' })).body.result).toMatchObject({
      status: 'paused',
    });
    await emulator.clock.advance(10 * 3_600_000);
    expect((await details(emulator, 'nightly-report', 'n-1')).status).toBe('paused');
    await status(emulator, 'nightly-report', 'n-1', { status: 'resume' });
    await emulator.clock.advance(90 * 60_000 - 1);
    let d = await details(emulator, 'nightly-report', 'n-1');
    expect(d.status).toBe('waiting');
    expect(d.steps.filter((s) => s.type === 'step')).toHaveLength(1);
    await emulator.clock.advance(1);
    d = await details(emulator, 'nightly-report', 'n-1');
    expect(d.steps.map((s) => s.name)).toEqual([
      'collect-metrics-1',
      'wait-for-batch-window-1',
      'render-report-1',
      'embargo-1',
    ]);
  });

  it('refuses transitions the state machine does not allow, with 400 and a specific message', async () => {
    const emulator = await startEmulator();
    const r = await status(emulator, 'order-fulfillment', 'order-1001', { status: 'pause' });
    expect(r.status).toBe(400);
    expect(r.body.errors[0]).toEqual({
      code: 10406,
      message: '(instance.cannot_pause) Cannot pause instance in status "complete"',
    });
    const restart = await status(emulator, 'order-fulfillment', 'order-1001', {
      status: 'restart',
      from: { name: 'no-such-step' },
    });
    expect(restart.body.errors[0]?.message).toBe(
      '(instance.cannot_restart) Step "no-such-step" not found in execution history',
    );
  });

  it('queues instances beyond the workflow concurrency limit', async () => {
    const emulator = await startEmulator();
    await rest(emulator, 'PUT', '/limited', {
      body: { class_name: 'NightlyReportWorkflow', script_name: 's', concurrency: { limit: 1 } },
    });
    class Busy extends WorkflowEntrypoint {
      async run(_event: WorkflowEvent<unknown>, step: WorkflowStep) {
        await step.do(
          'work',
          { timeout: '1 hour' },
          () => new Promise<number>((resolve) => setTimeout(() => resolve(1), 20)),
        );
        return 'done';
      }
    }
    emulator.engine.registerWorkflowClass('Busy', Busy);
    await rest(emulator, 'PUT', '/busy', { body: { class_name: 'Busy', script_name: 's', concurrency: { limit: 1 } } });
    await create(emulator, 'busy', { instance_id: 'a' });
    await create(emulator, 'busy', { instance_id: 'b' });
    await emulator.engine.waitForStatus(ACCOUNT, 'busy', 'a', 'running');
    expect(emulator.engine.instance(ACCOUNT, 'busy', 'b')?.status).toBe('queued');
    await emulator.engine.waitForStatus(ACCOUNT, 'busy', 'b', 'complete');
    expect(emulator.engine.instance(ACCOUNT, 'busy', 'a')?.status).toBe('complete');
  });

  it('fails the instance, not the process, when workflow code throws; NonRetryableError skips retries', async () => {
    const emulator = await startEmulator();
    class Broken extends WorkflowEntrypoint {
      async run(event: WorkflowEvent<{ mode?: string }>, step: WorkflowStep) {
        if (event.payload.mode === 'outside') throw new TypeError('boom outside steps');
        return step.do('fatal', () => {
          throw new NonRetryableError('no point retrying');
        });
      }
    }
    emulator.engine.registerWorkflowClass('Broken', Broken);
    await rest(emulator, 'PUT', '/broken', { body: { class_name: 'Broken', script_name: 's' } });
    await create(emulator, 'broken', { instance_id: 'x', params: { mode: 'outside' } });
    await create(emulator, 'broken', { instance_id: 'y' });
    await emulator.clock.advance(0);
    expect((await details(emulator, 'broken', 'x')).error).toEqual({
      name: 'TypeError',
      message: 'boom outside steps',
    });
    const y = await details(emulator, 'broken', 'y');
    expect(y.status).toBe('errored');
    expect(y.steps[0]!.attempts).toHaveLength(1);
  });

  it('drops finished instances after their retention', async () => {
    const emulator = await startEmulator();
    await create(emulator, 'flaky-import', {
      instance_id: 'short',
      instance_retention: { success_retention: '1 minute' },
    });
    await emulator.clock.advance(10_000);
    expect((await details(emulator, 'flaky-import', 'short')).status).toBe('complete');
    await emulator.clock.advance(60_000);
    expect((await rest(emulator, 'GET', '/flaky-import/instances/short')).status).toBe(404);
    // The id is free again once the earlier instance is gone.
    expect((await rest(emulator, 'POST', '/flaky-import/instances', { body: { instance_id: 'short' } })).status).toBe(
      200,
    );
  });

  it('changes modified_on in the list whenever status or steps change', async () => {
    const emulator = await startEmulator();
    await create(emulator, 'flaky-import', { instance_id: 'm' });
    const row = async () =>
      ((await rest(emulator, 'GET', '/flaky-import/instances?per_page=1')).body.result as { modified_on: string }[])[0]!
        .modified_on;
    const before = await row();
    await emulator.clock.advance(2000);
    expect(await row()).not.toBe(before);
  });
});
