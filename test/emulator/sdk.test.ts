import Cloudflare from 'cloudflare';
import { describe, expect, it } from 'vitest';
import { ACCOUNT, sdk, startEmulator } from './support.js';

const account_id = ACCOUNT;

describe('the official SDK against the emulator', () => {
  it('lists workflows with auto-pagination, stopping on the empty page past the end', async () => {
    const emulator = await startEmulator();
    const cf = sdk(emulator);
    const names: string[] = [];
    for await (const workflow of cf.workflows.list({ account_id, per_page: 3 })) names.push(workflow.name);
    expect(names.sort()).toEqual(['booking-saga', 'flaky-import', 'nightly-report', 'order-fulfillment']);
    // Page 1 (3 rows), page 2 (1 row), page 3 (empty): the SDK only stops on an empty page.
    expect(emulator.requests.count({ method: 'GET', route: 'GET /accounts/{account_id}/workflows' })).toBe(3);
    const page = await cf.workflows.list({ account_id, per_page: 2 });
    expect(page.result_info).toMatchObject({ page: 1, per_page: 2, count: 2, total_count: 4, total_pages: 2 });
    const searched = await cf.workflows.list({ account_id, search: 'saga' });
    expect(searched.result.map((w) => w.name)).toEqual(['booking-saga']);
  });

  it('gets, updates and deletes a workflow', async () => {
    const emulator = await startEmulator();
    const cf = sdk(emulator);
    const workflow = await cf.workflows.get('nightly-report', { account_id });
    expect(workflow).toMatchObject({
      name: 'nightly-report',
      class_name: 'NightlyReportWorkflow',
      script_name: 'reporting-worker',
    });
    expect(workflow.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(workflow.schedules?.[0]?.cron).toBe('0 3 * * *');
    expect(new Date(workflow.schedules![0]!.next_instance).getUTCHours()).toBe(3);
    expect(Object.keys(workflow.instances).sort()).toEqual([
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

    const created = await cf.workflows.update('my-flow', {
      account_id,
      class_name: 'FlakyImportWorkflow',
      script_name: 'w',
      concurrency: { limit: 2 },
      default_retention: { success_retention: '1 day' },
    });
    expect(created).toMatchObject({
      name: 'my-flow',
      class_name: 'FlakyImportWorkflow',
      is_deleted: 0,
      terminator_running: 0,
      triggered_on: null,
    });
    const updated = await cf.workflows.update('my-flow', {
      account_id,
      class_name: 'FlakyImportWorkflow',
      script_name: 'w2',
    });
    expect(updated.id).toBe(created.id);
    expect(updated.version_id).not.toBe(created.version_id);

    const versions = await cf.workflows.versions.list('my-flow', { account_id });
    expect(versions.result.map((v) => v.id)).toEqual([updated.version_id, created.version_id]);
    expect(versions.result[1]).toMatchObject({
      workflow_id: created.id,
      class_name: 'FlakyImportWorkflow',
      has_dag: true,
      language: 'javascript',
      concurrency: { limit: 2 },
      default_retention: { success_retention: 86_400_000 },
    });
    const version = await cf.workflows.versions.get(created.version_id, { account_id, workflow_name: 'my-flow' });
    expect(version.id).toBe(created.version_id);
    const graph = await cf.workflows.versions.graph(created.version_id, { account_id, workflow_name: 'my-flow' });
    expect(graph.graph?.workflow.class_name).toBe('FlakyImportWorkflow');
    expect(graph.graph?.workflow.nodes.map((n) => n.type)).toContain('step_do');

    expect(await cf.workflows.delete('my-flow', { account_id })).toEqual({ status: 'ok', success: true });
    await expect(cf.workflows.get('my-flow', { account_id })).rejects.toBeInstanceOf(Cloudflare.NotFoundError);
  });

  it('creates, lists, bulk-creates and reads instances with typed shapes', async () => {
    const emulator = await startEmulator();
    const cf = sdk(emulator);
    const created = await cf.workflows.instances.create('flaky-import', {
      account_id,
      instance_id: 'sdk-1',
      params: 'kept as a string',
    });
    expect(created).toMatchObject({ id: 'sdk-1', status: 'queued', trigger_source: 'api' });
    const bulk = [];
    for await (const row of cf.workflows.instances.bulk('flaky-import', {
      account_id,
      body: [{ instance_id: 'sdk-2' }, { instance_id: 'sdk-3', params: {} as never }],
    }))
      bulk.push(row.id);
    expect(bulk).toEqual(['sdk-2', 'sdk-3']);
    await emulator.clock.advance(60_000);

    const ids: string[] = [];
    for await (const row of cf.workflows.instances.list('flaky-import', { account_id, per_page: 2 })) ids.push(row.id);
    expect(ids.slice(0, 3)).toEqual(['sdk-3', 'sdk-2', 'sdk-1']);
    expect(ids).toHaveLength(5);

    const details = await cf.workflows.instances.get('sdk-1', { account_id, workflow_name: 'flaky-import' });
    expect(details.status).toBe('complete');
    expect(details.params).toBe('kept as a string');
    expect(details.versionId).toBe(created.version_id);
    expect(details.trigger).toEqual({ source: 'api' });
    expect(details.steps.map((s) => ('name' in s ? s.name : s.type))).toEqual([
      'list-files-1',
      'fetch-batch-1',
      'import-rows-1',
    ]);
    const fetch = details.steps[1] as Cloudflare.Workflows.InstanceGetResponse.UnionMember0;
    expect(fetch.attempts.map((a) => a.success)).toEqual([false, false, true]);
    expect(fetch.attempts[0]!.error).toEqual({
      name: 'Error',
      message: expect.stringContaining('timed out (attempt 1)'),
    });
    const simple = await cf.workflows.instances.get('sdk-1', {
      account_id,
      workflow_name: 'flaky-import',
      simple: 'true',
    });
    expect(simple).toMatchObject({ steps: [], step_count: 3 });
    const desc = await cf.workflows.instances.get('sdk-1', {
      account_id,
      workflow_name: 'flaky-import',
      order: 'desc',
    });
    expect((desc.steps[0] as { name: string }).name).toBe('import-rows-1');

    const step = await cf.workflows.instances.step('sdk-1', {
      account_id,
      workflow_name: 'flaky-import',
      name: 'fetch-batch-1',
      type: 'step',
    });
    expect(step).toMatchObject({ status: 'complete', error: null, output: { rows: 1000, fetchedOnAttempt: 3 } });
    const first = await cf.workflows.instances.step('sdk-1', {
      account_id,
      workflow_name: 'flaky-import',
      name: 'fetch-batch-1',
      type: 'step',
      attempt: 1,
    });
    expect(first).toMatchObject({ status: 'errored', output: null, error: { name: 'Error' } });
  });

  it('filters the instance list and pages with a cursor', async () => {
    const emulator = await startEmulator();
    const cf = sdk(emulator);
    const page = await cf.workflows.instances.list('order-fulfillment', { account_id, per_page: 2 });
    const cursor = (page.result_info as { cursor?: string }).cursor;
    expect(cursor).toEqual(expect.any(String));
    const next = await cf.workflows.instances.list('order-fulfillment', { account_id, per_page: 2, cursor: cursor! });
    expect(next.result.map((r) => r.id)).toEqual(['order-1002', 'order-1001']);
    const complete = await cf.workflows.instances.list('order-fulfillment', { account_id, status: 'complete' });
    expect(complete.result.map((r) => r.id)).toEqual(['order-1001']);
    const none = await cf.workflows.instances.list('order-fulfillment', {
      account_id,
      date_start: new Date(emulator.clock.now() + 1000).toISOString(),
    });
    expect(none.result).toEqual([]);
    const past = await cf.workflows.instances.list('order-fulfillment', { account_id, page: 9 });
    expect(past.result).toEqual([]);
  });

  it('pauses, resumes, terminates and restarts through status.edit, and sends events', async () => {
    const emulator = await startEmulator();
    const cf = sdk(emulator);
    const p = { account_id, workflow_name: 'order-fulfillment' };
    await cf.workflows.instances.create('order-fulfillment', { account_id, instance_id: 'o-1' });
    await emulator.clock.advance(0);
    expect((await cf.workflows.instances.get('o-1', p)).status).toBe('waiting');
    expect(await cf.workflows.instances.status.edit('o-1', { ...p, status: 'pause' })).toMatchObject({
      status: 'paused',
      timestamp: expect.any(String),
    });
    expect((await cf.workflows.instances.status.edit('o-1', { ...p, status: 'resume' })).status).toBe('queued');
    await emulator.clock.advance(60_000);
    const sent = await cf.workflows.instances.events.create('payment-approved', {
      ...p,
      instance_id: 'o-1',
      body: { approved: true },
    });
    expect(sent).toEqual({ instanceId: 'o-1', timestamp: expect.any(String) });
    await emulator.clock.advance(0);
    expect((await cf.workflows.instances.get('o-1', p)).status).toBe('complete');
    expect(
      (await cf.workflows.instances.status.edit('o-1', { ...p, status: 'restart', from: { name: 'ship-order' } }))
        .status,
    ).toBe('queued');
    await emulator.clock.advance(0);
    expect((await cf.workflows.instances.get('o-1', p)).status).toBe('complete');
    expect((await cf.workflows.instances.status.edit('o-1', { ...p, status: 'restart' })).status).toBe('queued');
    await emulator.clock.advance(0);
    expect((await cf.workflows.instances.status.edit('o-1', { ...p, status: 'terminate' })).status).toBe('terminated');
    const details = await cf.workflows.instances.get('o-1', p);
    expect(details.steps.at(-1)).toEqual({ type: 'termination', trigger: { source: 'api' } });
  });

  it('surfaces errors through the SDK error classes', async () => {
    const emulator = await startEmulator({ apiToken: 'right' });
    const cf = sdk(emulator, { apiToken: 'right' });
    const p = { account_id, workflow_name: 'order-fulfillment' };
    const unknownWorkflow = await cf.workflows.get('nope', { account_id }).catch((e: unknown) => e);
    expect(unknownWorkflow).toBeInstanceOf(Cloudflare.NotFoundError);
    expect((unknownWorkflow as InstanceType<typeof Cloudflare.APIError>).errors[0]).toMatchObject({ code: 10200 });
    const unknownInstance = await cf.workflows.instances.get('nope', p).catch((e: unknown) => e);
    expect(unknownInstance).toBeInstanceOf(Cloudflare.NotFoundError);
    expect((unknownInstance as InstanceType<typeof Cloudflare.APIError>).errors[0]).toMatchObject({ code: 10400 });
    const invalid = await cf.workflows.instances
      .create('order-fulfillment', { account_id, instance_id: 'bad id!' })
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(Cloudflare.BadRequestError);
    const duplicate = await cf.workflows.instances
      .create('order-fulfillment', { account_id, instance_id: 'order-1001' })
      .catch((e: unknown) => e);
    expect(duplicate).toBeInstanceOf(Cloudflare.BadRequestError);
    expect((duplicate as InstanceType<typeof Cloudflare.APIError>).errors[0]).toMatchObject({ code: 10405 });
    const refused = await cf.workflows.instances.status
      .edit('order-1001', { ...p, status: 'terminate' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Cloudflare.BadRequestError);
    expect((refused as InstanceType<typeof Cloudflare.APIError>).errors[0]?.message).toBe(
      '(instance.cannot_terminate) Cannot terminate instance since its on a finite state',
    );
    const badToken = await sdk(emulator, { apiToken: 'wrong' })
      .workflows.list({ account_id })
      .catch((e: unknown) => e);
    expect(badToken).toBeInstanceOf(Cloudflare.AuthenticationError);
    expect((badToken as InstanceType<typeof Cloudflare.APIError>).errors[0]).toMatchObject({ code: 9106 });
  });

  it('answers 429 with a short Retry-After that the SDK obeys', async () => {
    const emulator = await startEmulator({ rateLimit: { limit: 2, windowS: 1 } });
    const cf = sdk(emulator);
    await cf.workflows.get('order-fulfillment', { account_id });
    const response = await cf.workflows.get('order-fulfillment', { account_id }).asResponse();
    expect(response.headers.get('ratelimit')).toMatch(/^"default";r=0;t=1$/);
    expect(response.headers.get('ratelimit-policy')).toBe('"burst";q=2;w=1');
    const limited = await cf.workflows.get('order-fulfillment', { account_id }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(Cloudflare.RateLimitError);
    expect((limited as InstanceType<typeof Cloudflare.APIError>).headers?.get('retry-after')).toBe('1');
    // With retries the SDK waits out the window and succeeds.
    const retried = await sdk(emulator, { maxRetries: 2 }).workflows.get('order-fulfillment', { account_id });
    expect(retried.name).toBe('order-fulfillment');
  });
});
