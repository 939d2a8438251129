import type { WorkflowClass } from '../engine/model.js';
import type { WorkflowDefinition } from '../store.js';
import { BookingSagaWorkflow } from './booking-saga.js';
import { FlakyImportWorkflow } from './flaky-import.js';
import { NightlyReportWorkflow } from './nightly-report.js';
import { OrderFulfillmentWorkflow } from './order-fulfillment.js';

/** Workflow classes the emulator can run, by class name: a PUT with one of these class names runs it. */
export const DEMO_CLASSES: ReadonlyMap<string, WorkflowClass & { graph?: unknown }> = new Map<
  string,
  WorkflowClass & { graph?: unknown }
>([
  ['OrderFulfillmentWorkflow', OrderFulfillmentWorkflow],
  ['FlakyImportWorkflow', FlakyImportWorkflow],
  ['NightlyReportWorkflow', NightlyReportWorkflow],
  ['BookingSagaWorkflow', BookingSagaWorkflow],
]);

export const DEMO_WORKFLOWS: readonly (WorkflowDefinition & { name: string })[] = [
  { name: 'order-fulfillment', className: 'OrderFulfillmentWorkflow', scriptName: 'shop-worker' },
  { name: 'flaky-import', className: 'FlakyImportWorkflow', scriptName: 'import-worker', concurrency: { limit: 5 } },
  {
    name: 'nightly-report',
    className: 'NightlyReportWorkflow',
    scriptName: 'reporting-worker',
    schedules: [{ cron: '0 3 * * *' }],
  },
  { name: 'booking-saga', className: 'BookingSagaWorkflow', scriptName: 'travel-worker' },
];

export { BookingSagaWorkflow, FlakyImportWorkflow, NightlyReportWorkflow, OrderFulfillmentWorkflow };
