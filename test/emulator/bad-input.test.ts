import { describe, expect, it } from 'vitest';
import { ACCOUNT, rest, startEmulator, TOKEN } from './support.js';

describe('bad input gets the v4 error envelope', () => {
  it('rejects malformed JSON, a wrong content type and params over 1 MiB', async () => {
    const emulator = await startEmulator();
    const malformed = await rest(emulator, 'POST', '/order-fulfillment/instances', {
      rawBody: '{"params":',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({
      success: false,
      result: null,
      errors: [{ code: 10002, message: expect.stringContaining('not valid JSON') }],
    });
    const wrongType = await rest(emulator, 'POST', '/order-fulfillment/instances', {
      rawBody: '{}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.errors[0]?.message).toContain('Content-Type must be application/json');
    const huge = await rest(emulator, 'POST', '/order-fulfillment/instances', {
      body: { params: { blob: 'x'.repeat(1024 * 1024) } },
    });
    expect(huge.status).toBe(413);
    expect(huge.body.errors[0]?.message).toContain('larger than 1 MiB');
    const list = await rest(emulator, 'GET', '/order-fulfillment/instances?per_page=100');
    expect(list.body.result_info?.total_count).toBe(4);
  });

  it('validates ids, names, event types, pagination and batch sizes', async () => {
    const emulator = await startEmulator();
    const cases: [string, string, unknown][] = [
      ['POST', '/order-fulfillment/instances', { instance_id: 'a'.repeat(101) }],
      ['POST', '/order-fulfillment/instances', { instance_id: `cf_${'a'.repeat(64)}` }],
      ['POST', '/order-fulfillment/instances', { location_hint: 'mars' }],
      ['GET', `/order-fulfillment/instances/${'a'.repeat(300)}`, undefined],
      ['GET', `/${'w'.repeat(65)}`, undefined],
      ['POST', '/order-fulfillment/instances/order-1004/events/bad%20type', {}],
      ['GET', '/order-fulfillment/instances?per_page=101', undefined],
      ['GET', '/order-fulfillment/instances?page=0', undefined],
      ['GET', '/order-fulfillment/instances?status=sleeping', undefined],
      ['POST', '/order-fulfillment/instances/batch', []],
      ['POST', '/order-fulfillment/instances/batch', Array.from({ length: 101 }, () => ({}))],
      ['POST', '/order-fulfillment/instances/batch', { instances: [] }],
      ['PATCH', '/order-fulfillment/instances/order-1004/status', { status: 'explode' }],
      ['PATCH', '/order-fulfillment/instances/order-1004/status', { status: 'pause', rollback: true }],
      ['PUT', '/new-flow', { class_name: 'X' }],
    ];
    for (const [method, path, body] of cases) {
      const response = await rest(emulator, method, path, body === undefined ? {} : { body });
      expect({ path, status: response.status, success: response.body.success }).toEqual({
        path,
        status: 400,
        success: false,
      });
      expect(response.body.errors[0]?.message.length).toBeGreaterThan(10);
    }
  });

  it('answers unknown routes with 404 code 7003 and wrong methods with 405', async () => {
    const emulator = await startEmulator();
    const unknown = await rest(emulator, 'GET', '/order-fulfillment/nothing/here');
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors).toEqual([{ code: 7003, message: 'No route for the URI.' }]);
    const wrong = await rest(emulator, 'POST', '/order-fulfillment');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, PUT, DELETE');
    const outside = await fetch(emulator.url.replace('/client/v4', '/other'), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(outside.status).toBe(404);
  });

  it('routes the literal batch and terminate paths before instance ids', async () => {
    const emulator = await startEmulator();
    const batch = await rest(emulator, 'POST', '/order-fulfillment/instances/batch', {
      body: [{ instance_id: 'batch' }, { instance_id: 'terminate' }],
    });
    expect((batch.body.result as { id: string }[]).map((r) => r.id)).toEqual(['batch', 'terminate']);
    expect((await rest(emulator, 'GET', '/order-fulfillment/instances/batch')).body.result).toMatchObject({
      params: {},
    });
    expect((await rest(emulator, 'GET', '/order-fulfillment/instances/terminate')).body.result).toEqual({
      status: 'not_running',
    });
    const terminated = await rest(emulator, 'POST', '/order-fulfillment/instances/batch/terminate', {
      body: ['batch', 'order-1001'],
    });
    expect(terminated.body.result).toEqual({ instancesTerminated: 1, status: 'ok' });
    const deleted = await rest(emulator, 'POST', '/order-fulfillment/instances/batch/delete', {
      body: { instances: ['batch', 'ghost'] },
    });
    expect(deleted.body.result).toEqual({
      deleted: [{ id: 'batch' }],
      errors: [{ id: 'ghost', code: 10400, message: 'workflows.api.error.instance.not_found' }],
    });
    expect((await rest(emulator, 'PUT', '/order-fulfillment/instances/terminate')).body.result).toEqual({
      status: 'ok',
    });
    expect((await rest(emulator, 'GET', '/order-fulfillment/instances/order-1004')).body.result).toMatchObject({
      status: 'terminated',
    });
  });

  it('requires credentials and keeps accounts apart', async () => {
    const emulator = await startEmulator({ seedDemoData: false });
    const anonymous = await fetch(`${emulator.url}/accounts/${ACCOUNT}/workflows`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { errors: { code: number }[] }).errors[0]?.code).toBe(9106);
    const legacy = await fetch(`${emulator.url}/accounts/${ACCOUNT}/workflows`, {
      headers: { 'x-auth-email': 'a@b.c', 'x-auth-key': 'k' },
    });
    expect(legacy.status).toBe(200);
    await rest(emulator, 'PUT', '/only-here', { body: { class_name: 'FlakyImportWorkflow', script_name: 's' } });
    const other = await fetch(`${emulator.url}/accounts/ffffffffffffffffffffffffffffffff/workflows/only-here`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(other.status).toBe(404);
  });

  it('injects faults per route and records every request', async () => {
    const emulator = await startEmulator();
    const route = 'GET /accounts/{account_id}/workflows/{workflow_name}';
    emulator.faults.set({ route, errorRate: 1 });
    expect((await rest(emulator, 'GET', '/order-fulfillment')).status).toBe(500);
    expect((await rest(emulator, 'GET', '')).status).toBe(200);
    emulator.faults.set({ route, rateLimitRate: 1 });
    const limited = await rest(emulator, 'GET', '/order-fulfillment');
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '1']);
    emulator.faults.set({ route, malformed: 1 });
    const text = await (
      await fetch(`${emulator.url}/accounts/${ACCOUNT}/workflows/order-fulfillment`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).text();
    expect(() => JSON.parse(text)).toThrow();
    emulator.faults.set({ route, truncate: 1 });
    await expect(
      fetch(`${emulator.url}/accounts/${ACCOUNT}/workflows/order-fulfillment`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      }).then((r) => r.text()),
    ).rejects.toThrow();
    emulator.faults.set({ route, reset: 1 });
    await expect(
      fetch(`${emulator.url}/accounts/${ACCOUNT}/workflows/order-fulfillment`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      }),
    ).rejects.toThrow();
    emulator.faults.clear();
    expect((await rest(emulator, 'GET', '/order-fulfillment')).status).toBe(200);

    expect(emulator.requests.count({ route })).toBe(6);
    expect(emulator.requests.count({ method: 'GET', routeIncludes: '{workflow_name}' })).toBe(6);
    const last = emulator.requests.entries.at(-1)!;
    expect(last).toMatchObject({
      method: 'GET',
      path: `/accounts/${ACCOUNT}/workflows/order-fulfillment`,
      route,
      status: 200,
      accountId: ACCOUNT,
    });
    emulator.requests.reset();
    expect(emulator.requests.count()).toBe(0);
  });
});
