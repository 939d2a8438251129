import { NonRetryableError, WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from '../engine/model.js';
import { fieldsOf, optionalOneOf, optionalString } from './params.js';

const FAIL_POINTS = ['flight', 'hotel', 'car', 'payment'] as const;

interface BookingParams {
  /** Makes that step fail: the instance then rolls back what was booked before it. */
  failAt?: (typeof FAIL_POINTS)[number];
  traveller?: string;
}

/**
 * Books flight, hotel and car with compensating rollbacks, holds them, then charges. Params of the wrong type
 * fail the instance before the first booking, naming the field.
 */
export class BookingSagaWorkflow extends WorkflowEntrypoint<unknown, unknown> {
  static readonly graph = {
    version: 1,
    workflow: {
      class_name: 'BookingSagaWorkflow',
      functions: {},
      payload: { type: 'object', fields: { failAt: { type: 'unknown' }, traveller: { type: 'unknown' } } },
      nodes: ['reserve-flight', 'reserve-hotel', 'reserve-car']
        .map((name) => ({
          type: 'step_do',
          name,
          config: { retries: { limit: 1, delay: '1 second', backoff: 'constant' }, timeout: '1 minute' },
          nodes: [],
        }))
        .concat([
          { type: 'step_sleep', name: 'hold-reservations', duration: '10 minutes' } as never,
          {
            type: 'step_do',
            name: 'charge-customer',
            config: { retries: { limit: 1, delay: '1 second', backoff: 'constant' }, timeout: '1 minute' },
            nodes: [],
          },
        ]),
    },
  };

  async run(event: WorkflowEvent<unknown>, step: WorkflowStep) {
    const params = readBookingParams(event.payload);
    const traveller = params.traveller ?? 'A. Traveller';
    const config = { retries: { limit: 1, delay: '1 second', backoff: 'constant' as const }, timeout: '1 minute' };
    const book = <T>(what: 'flight' | 'hotel' | 'car', result: T) =>
      step.do(
        `reserve-${what}`,
        config,
        async () => {
          if (params.failAt === what) throw new NonRetryableError(`No ${what} available for ${traveller}`);
          return result;
        },
        { rollback: async () => ({ cancelled: what }) },
      );
    const flight = await book('flight', { pnr: 'K7QX2M', flight: 'KL1001' });
    const hotel = await book('hotel', { confirmation: 'H-55120', nights: 3 });
    const car = await book('car', { rental: 'C-9081' });
    await step.sleep('hold-reservations', '10 minutes');
    const payment = await step.do('charge-customer', config, async () => {
      if (params.failAt === 'payment') throw new NonRetryableError(`Card of ${traveller} was declined`);
      return { chargedCents: 129_900 };
    });
    return {
      traveller,
      flight: flight.pnr,
      hotel: hotel.confirmation,
      car: car.rental,
      chargedCents: payment.chargedCents,
    };
  }
}

/** The params of a booking, checked field by field (see params.ts). */
function readBookingParams(payload: unknown): BookingParams {
  const fields = fieldsOf(payload);
  const failAt = optionalOneOf(fields, 'failAt', FAIL_POINTS);
  const traveller = optionalString(fields, 'traveller');
  return { ...(failAt === undefined ? {} : { failAt }), ...(traveller === undefined ? {} : { traveller }) };
}
