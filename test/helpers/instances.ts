import { expect } from 'vitest';
import { WriteCreateInstanceDocument, WriteSendInstanceEventDocument } from '../generated/operations.js';
import { expectData, expectTypename } from './graphql.js';
import type { Stack } from './stack.js';

let counter = 0;

/** An instance id no earlier call of this test process has returned: `<prefix>-<pid>-<n>`. */
export function freshId(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}`;
}

/** Creates an instance through the `createInstance` mutation and fails the test unless it was created. */
export async function createInstance(
  stack: Stack,
  workflowName: string,
  instanceId: string,
  params?: unknown,
): Promise<void> {
  const data = expectData(
    await stack.graphql(WriteCreateInstanceDocument, {
      input: { workflowName, instanceId, ...(params === undefined ? {} : { params }) },
    }),
  );
  expect(expectTypename(data.createInstance, 'CreateInstancePayload').instance?.instanceId).toBe(instanceId);
}

/**
 * Sends order-fulfillment's `payment-approved` event with `{ approved: true }` through the `sendInstanceEvent`
 * mutation, which releases an order waiting in `await-payment-approval`; fails the test unless it was accepted.
 */
export async function approvePayment(stack: Stack, instanceId: string): Promise<void> {
  const data = expectData(
    await stack.graphql(WriteSendInstanceEventDocument, {
      input: { workflowName: 'order-fulfillment', instanceId, type: 'payment-approved', payload: { approved: true } },
    }),
  );
  expectTypename(data.sendInstanceEvent, 'SendInstanceEventPayload');
}
