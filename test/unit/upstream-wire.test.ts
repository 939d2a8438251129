import { describe, expect, it } from 'vitest';
import { createUpstream } from '../../src/upstream/client.js';
import { splitStepName, toOutputPreview } from '../../src/upstream/wire.js';
import { ACCOUNT, ok, reply, startFakeUpstream, upstreamConfig, wireWorkflow } from '../helpers/fake-upstream.js';

const details = {
  status: 'errored',
  params: { orderId: 42 },
  trigger: { source: 'api' },
  versionId: '5c1a5a2e-9a7a-4d7e-8f0e-1a2b3c4d5e6f',
  queued: '2026-01-02T10:00:00.000Z',
  start: '2026-01-02T10:00:01.000Z',
  end: '2026-01-02T10:05:00.000Z',
  success: false,
  output: null,
  error: { name: 'Error', message: 'card declined' },
  rollback: { outcome: 'complete', error: null },
  step_count: 4,
  steps: [
    {
      type: 'step',
      name: 'charge-card-1',
      start: '2026-01-02T10:00:01.000Z',
      end: '2026-01-02T10:00:02.000Z',
      success: true,
      output: { charged: true },
      config: { retries: { limit: 5, delay: 10000, backoff: 'exponential' }, timeout: '10 minutes' },
      attempts: [
        {
          start: '2026-01-02T10:00:01.000Z',
          end: '2026-01-02T10:00:01.500Z',
          success: false,
          error: { name: 'Error', message: 'flaky' },
        },
        { start: '2026-01-02T10:00:01.600Z', end: '2026-01-02T10:00:02.000Z', success: true, error: null },
      ],
    },
    {
      type: 'sleep',
      name: 'cool-down-1',
      start: '2026-01-02T10:00:02.000Z',
      end: '2026-01-02T10:01:02.000Z',
      finished: true,
      error: null,
    },
    {
      type: 'waitForEvent',
      name: 'approval-2',
      start: '2026-01-02T10:01:02.000Z',
      end: null,
      finished: false,
      error: null,
      event_type: 'approved',
      output: 'x'.repeat(1024) + '[truncated output]',
    },
    {
      type: 'rollback',
      name: 'retry-2-3',
      start: '2026-01-02T10:04:00.000Z',
      end: '2026-01-02T10:04:01.000Z',
      success: true,
      output: '[REDACTED]',
      config: { retries: { limit: 0, delay: '[dynamic]' }, timeout: 30000, sensitive: 'output' },
      attempts: [],
    },
    { type: 'termination', trigger: { source: 'api' } },
  ],
};

describe('upstream wire mapping', () => {
  it('maps a full instance-details answer, every step kind included, to the domain shape', async () => {
    const fake = await startFakeUpstream((_req, res) => reply(res, 200, ok(details)));
    const upstream = createUpstream(upstreamConfig(fake.url));
    const instance = await upstream.default.getInstance('orders', 'order-42');
    expect(fake.requests[0]?.url).toBe(`/client/v4/accounts/${ACCOUNT}/workflows/orders/instances/order-42`);
    expect(instance).toMatchObject({
      id: 'order-42',
      workflowName: 'orders',
      status: 'errored',
      params: { orderId: 42 },
      trigger: 'api',
      versionId: '5c1a5a2e-9a7a-4d7e-8f0e-1a2b3c4d5e6f',
      queuedOn: new Date('2026-01-02T10:00:00.000Z'),
      startedOn: new Date('2026-01-02T10:00:01.000Z'),
      endedOn: new Date('2026-01-02T10:05:00.000Z'),
      success: false,
      error: { name: 'Error', message: 'card declined' },
      rollback: { outcome: 'complete', error: null },
      schedule: null,
      stepCount: 4,
      simple: false,
    });
    expect(instance.steps).toEqual([
      {
        type: 'do',
        name: 'charge-card-1',
        baseName: 'charge-card',
        count: 1,
        isRollback: false,
        start: new Date('2026-01-02T10:00:01.000Z'),
        end: new Date('2026-01-02T10:00:02.000Z'),
        success: true,
        outputPreview: '{"charged":true}',
        config: {
          retries: { limit: 5, delay: 10000, backoff: 'exponential' },
          timeout: '10 minutes',
          sensitive: false,
        },
        attempts: [
          {
            start: new Date('2026-01-02T10:00:01.000Z'),
            end: new Date('2026-01-02T10:00:01.500Z'),
            success: false,
            error: { name: 'Error', message: 'flaky' },
          },
          {
            start: new Date('2026-01-02T10:00:01.600Z'),
            end: new Date('2026-01-02T10:00:02.000Z'),
            success: true,
            error: null,
          },
        ],
      },
      {
        type: 'sleep',
        name: 'cool-down-1',
        baseName: 'cool-down',
        count: 1,
        start: new Date('2026-01-02T10:00:02.000Z'),
        end: new Date('2026-01-02T10:01:02.000Z'),
        finished: true,
        error: null,
      },
      {
        type: 'waitForEvent',
        name: 'approval-2',
        baseName: 'approval',
        count: 2,
        start: new Date('2026-01-02T10:01:02.000Z'),
        end: null,
        finished: false,
        error: null,
        eventType: 'approved',
        outputPreview: 'x'.repeat(1024) + '[truncated output]',
      },
      {
        type: 'do',
        name: 'retry-2-3',
        baseName: 'retry-2',
        count: 3,
        isRollback: true,
        start: new Date('2026-01-02T10:04:00.000Z'),
        end: new Date('2026-01-02T10:04:01.000Z'),
        success: true,
        outputPreview: '[REDACTED]',
        config: { retries: { limit: 0, delay: '[dynamic]', backoff: null }, timeout: 30000, sensitive: true },
        attempts: [],
      },
      { type: 'termination', source: 'api' },
    ]);
    await upstream.close();
  });

  it('reads a simple answer without steps as an empty step list and sends simple=true', async () => {
    const { steps: _steps, ...withoutSteps } = details;
    const fake = await startFakeUpstream((_req, res) => reply(res, 200, ok(withoutSteps)));
    const upstream = createUpstream(upstreamConfig(fake.url));
    const instance = await upstream.default.getInstance('orders', 'order-42', { simple: true, order: 'desc' });
    expect(fake.requests[0]?.url).toMatch(/\/instances\/order-42\?simple=true&order=desc$/);
    expect(instance.steps).toEqual([]);
    expect(instance.simple).toBe(true);
    expect(instance.stepCount).toBe(4);
    await upstream.close();
  });

  it('treats missing instance counts as zeros and keeps only known statuses', async () => {
    const workflow = wireWorkflow({ instances: { running: 2, someFutureStatus: 9 } });
    const fake = await startFakeUpstream((_req, res) => reply(res, 200, ok(workflow)));
    const upstream = createUpstream(upstreamConfig(fake.url));
    const result = await upstream.default.getWorkflow('orders');
    expect(result.instanceCounts).toEqual({
      queued: 0,
      running: 2,
      paused: 0,
      errored: 0,
      terminated: 0,
      complete: 0,
      waitingForPause: 0,
      waiting: 0,
      rollingBack: 0,
    });
    expect(result.schedules).toEqual([]);
    expect(result.scriptDeleted).toBe(false);
    await upstream.close();
  });

  it('maps a list page with its result_info and sends the query parameters of the contract', async () => {
    const row = {
      id: 'a',
      status: 'running',
      version_id: 'v1',
      workflow_id: 'w1',
      created_on: '2026-01-01T00:00:00Z',
      modified_on: '2026-01-01T00:00:01Z',
      started_on: '2026-01-01T00:00:01Z',
      ended_on: null,
      trigger_source: 'cron',
    };
    const fake = await startFakeUpstream((_req, res) =>
      reply(
        res,
        200,
        // The second row leaves out `trigger_source`, which Cloudflare marks optional.
        ok([row, { ...row, id: 'b', trigger_source: undefined }], {
          result_info: { count: 2, per_page: 10, total_count: 11, cursor: 'next-1' },
        }),
      ),
    );
    const upstream = createUpstream(upstreamConfig(fake.url));
    const page = await upstream.default.listInstances('orders', {
      perPage: 10,
      cursor: 'abc',
      direction: 'asc',
      status: 'running',
      dateStart: new Date(Date.UTC(2026, 0, 1)),
    });
    const url = new URL(fake.requests[0]?.url ?? '', 'http://x');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      per_page: '10',
      cursor: 'abc',
      direction: 'asc',
      status: 'running',
      date_start: '2026-01-01T00:00:00.000Z',
    });
    expect(page.items[0]).toMatchObject({
      id: 'a',
      workflowName: 'orders',
      versionId: 'v1',
      triggerSource: 'cron',
      endedOn: null,
    });
    // As the details do for a missing `trigger`: a source nobody said is `unknown`.
    expect(page.items[1]).toMatchObject({ id: 'b', triggerSource: 'unknown' });
    expect(page.info).toEqual({
      count: 2,
      perPage: 10,
      totalCount: 11,
      page: null,
      totalPages: null,
      cursor: 'next-1',
    });
    await upstream.close();
  });

  it('serves a raw octet-stream step output as base64', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const fake = await startFakeUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      res.end(bytes);
    });
    const upstream = createUpstream(upstreamConfig(fake.url));
    const step = await upstream.default.getInstanceStep('orders', 'order-42', { name: 'export-1', type: 'step' });
    expect(fake.requests[0]?.url).toMatch(/\/instances\/order-42\/step\?name=export-1&type=step$/);
    expect(step).toEqual({
      status: 'complete',
      error: null,
      output: bytes.toString('base64'),
      eventType: null,
      outputEncoding: 'base64',
    });
    await upstream.close();
  });

  it('splits only the last -<digits> of a step name off as its counter', () => {
    expect(splitStepName('charge-card-1')).toEqual({ baseName: 'charge-card', count: 1 });
    expect(splitStepName('retry-2-13')).toEqual({ baseName: 'retry-2', count: 13 });
    expect(splitStepName('plain')).toEqual({ baseName: 'plain', count: 1 });
    expect(splitStepName('-1')).toEqual({ baseName: '-1', count: 1 });
  });

  it('keeps string previews as sent and turns native JSON previews into JSON text', () => {
    expect(toOutputPreview('hello')).toBe('hello');
    expect(toOutputPreview(12)).toBe('12');
    expect(toOutputPreview([1, { a: 'b' }])).toBe('[1,{"a":"b"}]');
    expect(toOutputPreview(null)).toBeNull();
  });
});
