import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepTimelineDocument, type StepTimelineQuery } from '../generated/operations.js';
import { expectData, expectPresent } from '../helpers/graphql.js';
import { approvePayment, createInstance } from '../helpers/instances.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { eventually } from '../helpers/wait.js';

type Step = NonNullable<StepTimelineQuery['instance']>['steps'][number];

const WORKFLOW = 'order-fulfillment';
const ID = 'timeline-1';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
  await createInstance(stack, WORKFLOW, ID);
});
afterAll(() => stack.stop());

async function steps(): Promise<Step[]> {
  const data = expectData(await stack.graphql(StepTimelineDocument, { workflowName: WORKFLOW, instanceId: ID }));
  return expectPresent(data.instance, ID).steps;
}

/** The steps once `ready` holds for them, read again until then (the engine runs them on its own). */
async function stepsWhen(ready: (steps: Step[]) => boolean, message: string): Promise<Step[]> {
  let last: Step[] = [];
  await eventually(async () => ready((last = await steps())), { message });
  return last;
}

function named<T extends Step['__typename']>(all: Step[], typename: T, name: string): Extract<Step, { __typename: T }> {
  const found = all.find((s) => s.__typename === typename && 'name' in s && s.name === name);
  return expectPresent(found, `${typename} ${name}`) as Extract<Step, { __typename: T }>;
}

const ms = (iso: string | null) => Date.parse(expectPresent(iso, 'a date-time'));

describe('the step timeline of an order (manual clock)', () => {
  it("keeps a sleep's endedOn null while it sleeps, with its planned wake-up in wakesOn", async () => {
    const all = await stepsWhen((s) => s.some((step) => step.__typename === 'SleepStep'), 'the cool-off sleep');
    const sleep = named(all, 'SleepStep', 'cool-off-1');
    expect(sleep).toMatchObject({ finished: false, endedOn: null, type: 'SLEEP' });
    // `step.sleep('cool-off', '1 minute')`: Cloudflare logs the planned wake-up as the sleep's `end`.
    expect(ms(sleep.wakesOn) - ms(sleep.startedOn)).toBe(60_000);
  });

  it('types retry delays and timeouts as durations: milliseconds and the text the workflow wrote', async () => {
    const all = await steps();
    // `{ retries: { limit: 3, delay: '5 seconds', backoff: 'linear' } }`, timeout left to the default.
    expect(named(all, 'DoStep', 'reserve-inventory-1').config).toEqual({
      retries: { limit: 3, delay: { milliseconds: 5000, text: '5 seconds' }, backoff: 'LINEAR' },
      timeout: { milliseconds: 600_000, text: '10 minutes' },
    });
    expect(named(all, 'DoStep', 'charge-card-1').config.retries.delay).toEqual({
      milliseconds: 10_000,
      text: '10 seconds',
    });
  });

  it("keeps an event wait's endedOn null while it waits, with its time-out in timesOutOn; the sleep has ended", async () => {
    await stack.emulator.clock.advance(61_000);
    const all = await stepsWhen(
      (s) => s.some((step) => step.__typename === 'WaitForEventStep'),
      'the wait for payment-approved',
    );
    const sleep = named(all, 'SleepStep', 'cool-off-1');
    expect(sleep.finished).toBe(true);
    expect(sleep.endedOn).toBe(sleep.wakesOn);
    expect(ms(sleep.endedOn) - ms(sleep.startedOn)).toBeGreaterThanOrEqual(60_000);
    const wait = named(all, 'WaitForEventStep', 'await-payment-approval-1');
    expect(wait).toMatchObject({ finished: false, endedOn: null });
    // `timeout: '1 hour'`
    expect(ms(wait.timesOutOn) - ms(wait.startedOn)).toBe(3_600_000);
  });

  it("fills the wait's endedOn once the event arrived, and clears timesOutOn", async () => {
    await approvePayment(stack, ID);
    const all = await stepsWhen(
      (s) => s.some((step) => step.__typename === 'WaitForEventStep' && step.finished),
      'the event to arrive',
    );
    const wait = named(all, 'WaitForEventStep', 'await-payment-approval-1');
    expect(wait.timesOutOn).toBeNull();
    expect(ms(wait.endedOn)).toBeGreaterThanOrEqual(ms(wait.startedOn));
    // Every named step has a name and a start, typed non-null: no `?? ''` in a client.
    for (const step of all) if ('name' in step) expect(step.name).toMatch(/-\d+$/);
  });
});
