import { NonRetryableError, WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from '../engine/model.js';
import { fieldsOf, integerAtLeast, invalidParam, optionalString } from './params.js';

interface OrderItem {
  sku: string;
  quantity: number;
  priceCents: number;
}

interface OrderParams {
  orderId?: string;
  /** An empty list means the default basket. */
  items?: OrderItem[];
  customer?: string;
}

const DEFAULT_ITEMS = [
  { sku: 'KB-104', quantity: 1, priceCents: 8900 },
  { sku: 'MS-220', quantity: 2, priceCents: 2450 },
];

/**
 * Validates an order (params of the wrong type fail `validate-order` at once, naming the field), reserves
 * stock (an output longer than 1024 characters), charges the card (a sensitive step), cools off, then waits
 * for a `payment-approved` event: `{ "approved": true }` ships the order, anything else fails it.
 */
export class OrderFulfillmentWorkflow extends WorkflowEntrypoint<unknown, unknown> {
  static readonly graph = graph();

  async run(event: WorkflowEvent<unknown>, step: WorkflowStep) {
    const order = await step.do('validate-order', async () => {
      const params = readOrderParams(event.payload);
      const items = params.items && params.items.length > 0 ? params.items : DEFAULT_ITEMS;
      const totalCents = items.reduce((sum, item) => sum + item.quantity * item.priceCents, 0);
      return { orderId: params.orderId ?? event.instanceId, customer: params.customer ?? 'guest', items, totalCents };
    });
    const reservation = await step.do(
      'reserve-inventory',
      { retries: { limit: 3, delay: '5 seconds', backoff: 'linear' } },
      async () => ({
        warehouse: 'ams-1',
        // Pick lists are long: this output shows the 1024-character preview in instance details.
        pickList: order.items.flatMap((item) =>
          Array.from({ length: 12 }, (_, i) => ({
            sku: item.sku,
            bin: `A${(i % 6) + 1}-${String(i).padStart(2, '0')}`,
            note: 'handle with care, scan before packing',
          })),
        ),
      }),
    );
    const charge = await step.do(
      'charge-card',
      { sensitive: 'output', retries: { limit: 2, delay: '10 seconds', backoff: 'exponential' } },
      async () => ({
        authorization: `AUTH-${order.orderId}-${order.totalCents}`,
        cardLast4: '4242',
        amountCents: order.totalCents,
      }),
    );
    await step.sleep('cool-off', '1 minute');
    const approval = await step.waitForEvent<{ approved?: unknown }>('await-payment-approval', {
      type: 'payment-approved',
      timeout: '1 hour',
    });
    if (approval.payload?.approved !== true) {
      throw new NonRetryableError(`Payment for order ${order.orderId} was not approved`);
    }
    const shipment = await step.do('ship-order', async () => ({
      carrier: 'postnl',
      trackingNumber: `3S${order.orderId
        .replace(/[^A-Za-z0-9]/g, '')
        .toUpperCase()
        .slice(0, 10)}NL`,
      parcels: Math.max(1, Math.ceil(reservation.pickList.length / 20)),
    }));
    await step.do('send-confirmation', async () => ({
      to: order.customer,
      template: 'order-shipped',
      authorization: charge.authorization.slice(0, 9),
    }));
    return { orderId: order.orderId, status: 'shipped', trackingNumber: shipment.trackingNumber };
  }
}

/** The params of an order, checked field by field (see params.ts). */
function readOrderParams(payload: unknown): OrderParams {
  const fields = fieldsOf(payload);
  const orderId = optionalString(fields, 'orderId');
  const customer = optionalString(fields, 'customer');
  const items = fields.items === undefined || fields.items === null ? undefined : readItems(fields.items);
  return {
    ...(orderId === undefined ? {} : { orderId }),
    ...(customer === undefined ? {} : { customer }),
    ...(items === undefined ? {} : { items }),
  };
}

function readItems(value: unknown): OrderItem[] {
  if (!Array.isArray(value)) invalidParam('items', 'a list of { sku, quantity, priceCents }', value);
  return value.map((item: unknown, i) => {
    const at = `items[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      invalidParam(at, 'an object { sku, quantity, priceCents }', item);
    const fields = fieldsOf(item);
    if (typeof fields.sku !== 'string' || fields.sku === '')
      invalidParam(`${at}.sku`, 'a non-empty string', fields.sku);
    integerAtLeast(fields.quantity, `${at}.quantity`, 1);
    integerAtLeast(fields.priceCents, `${at}.priceCents`, 0);
    // Checked, and passed on as given.
    return item as OrderItem;
  });
}

function graph() {
  const retries = (limit: number, delay: string | number, backoff: 'constant' | 'linear' | 'exponential') => ({
    limit,
    delay,
    backoff,
  });
  const doNode = (name: string, r = retries(5, 10_000, 'exponential')) => ({
    type: 'step_do',
    name,
    config: { retries: r, timeout: '10 minutes' },
    nodes: [],
  });
  return {
    version: 1,
    workflow: {
      class_name: 'OrderFulfillmentWorkflow',
      functions: {},
      payload: {
        type: 'object',
        fields: { orderId: { type: 'unknown' }, items: { type: 'unknown' }, customer: { type: 'unknown' } },
      },
      nodes: [
        doNode('validate-order'),
        doNode('reserve-inventory', retries(3, '5 seconds', 'linear')),
        doNode('charge-card', retries(2, '10 seconds', 'exponential')),
        { type: 'step_sleep', name: 'cool-off', duration: '1 minute' },
        {
          type: 'step_wait_for_event',
          name: 'await-payment-approval',
          options: { event_type: 'payment-approved', timeout: '1 hour' },
        },
        { type: 'if', branches: [{ condition: 'approval.payload.approved !== true', nodes: [] }] },
        doNode('ship-order'),
        doNode('send-confirmation'),
      ],
    },
  };
}
