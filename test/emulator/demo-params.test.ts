import { describe, expect, it } from 'vitest';
import { rest, startEmulator } from './support.js';

type Details = {
  status: string;
  error: { name: string; message: string } | null;
  steps: { type: string; name: string; success?: boolean; attempts?: unknown[] }[];
};

async function run(workflow: string, id: string, params: unknown): Promise<Details> {
  const emulator = await startEmulator();
  const created = await rest(emulator, 'POST', `/${workflow}/instances`, { body: { instance_id: id, params } });
  expect(created.status).toBe(200);
  // Far beyond every retry delay of the demos: a retried step would show more attempts by now.
  await emulator.clock.advance(10 * 60_000);
  return (await rest(emulator, 'GET', `/${workflow}/instances/${id}`)).body.result as Details;
}

describe('demo workflows check their params', () => {
  it('order-fulfillment with a numeric orderId fails validate-order once, naming the field', async () => {
    const d = await run('order-fulfillment', 'o-42', { orderId: 42 });
    expect(d.status).toBe('errored');
    expect(d.error).toEqual({ name: 'NonRetryableError', message: expect.stringContaining('"orderId"') as string });
    expect(d.steps).toHaveLength(1);
    expect(d.steps[0]).toMatchObject({ type: 'step', name: 'validate-order-1', success: false });
    expect(d.steps[0]!.attempts).toHaveLength(1);
  });

  it('order-fulfillment names the item field that is wrong', async () => {
    const d = await run('order-fulfillment', 'o-items', {
      items: [
        { sku: 'KB-104', quantity: 1, priceCents: 8900 },
        { sku: 'MS-220', quantity: 0, priceCents: 2450 },
      ],
    });
    expect(d.status).toBe('errored');
    expect(d.error?.message).toContain('"items[1].quantity"');
    expect(d.steps[0]!.attempts).toHaveLength(1);
  });

  it.each([
    ['booking-saga', { failAt: 'train' }, '"failAt"'],
    ['booking-saga', { traveller: 7 }, '"traveller"'],
    ['flaky-import', { alwaysFail: 'yes' }, '"alwaysFail"'],
    ['flaky-import', { source: ['sftp://a', 'sftp://b'] }, '"source"'],
  ])('%s with %j fails before its first step, naming %s', async (workflow, params, field) => {
    const d = await run(workflow, 'bad-params', params);
    expect(d.status).toBe('errored');
    expect(d.error).toEqual({ name: 'NonRetryableError', message: expect.stringContaining(field) as string });
    expect(d.steps).toEqual([]);
  });

  it('runs on defaults when the payload is not an object (it has no fields to be wrong)', async () => {
    const d = await run('order-fulfillment', 'o-text', 'an order as text');
    expect(d.status).toBe('waiting');
    expect(d.steps.map((s) => s.name)).toEqual([
      'validate-order-1',
      'reserve-inventory-1',
      'charge-card-1',
      'cool-off-1',
      'await-payment-approval-1',
    ]);
  });
});
