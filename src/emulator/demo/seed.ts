/**
 * Demo data for one account: the four demo workflows, a finished history produced by really running the
 * workflow code on a private manual clock in the past, and a few instances left running on the live engine.
 * Names and counts are fixed (README) so docs, GraphiQL's default query and tests can rely on them.
 */
import { createManualClock, type Clock } from '../clock.js';
import { Engine } from '../engine/engine.js';
import type { WorkflowClass } from '../engine/model.js';
import { Store } from '../store.js';
import { isFinal, type AccountRecord, type InstanceRecord, type WorkflowRecord } from '../types.js';
import { DEMO_WORKFLOWS } from './index.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** How far back the demo history starts. */
const HISTORY_DAYS = 3;

export interface SeedDeps {
  store: Store;
  engine: Engine;
  clock: Clock;
  classes: Map<string, WorkflowClass>;
}

/** Seeds `account` (which must have no workflows yet). */
export async function seedDemoAccount(account: AccountRecord, deps: SeedDeps): Promise<void> {
  const now = deps.clock.now();
  const t0 = now - HISTORY_DAYS * DAY;
  const history = await runHistory(account.id, t0, lastNightlyRun(now) - MINUTE, deps.classes);
  for (const def of DEMO_WORKFLOWS) {
    const workflow = deps.store.upsertWorkflow(account, def.name, def, t0);
    const past = history.get(def.name);
    if (past) {
      for (const instance of past.instances.values()) {
        if (isFinal(instance.status)) {
          workflow.instances.set(instance.id, instance);
        }
      }
      workflow.nextSeq = past.nextSeq;
      workflow.triggeredOn = past.triggeredOn;
    }
    deps.engine.schedule(workflow);
  }
  const wf = (name: string) => account.workflows.get(name)!;
  // Live instances: left in their waits on the real engine.
  deps.engine.create(wf('order-fulfillment'), {
    id: 'order-1004',
    params: { orderId: 'order-1004', customer: 'dana@example.com' },
    trigger: 'api',
  });
  deps.engine.create(wf('booking-saga'), { id: 'booking-504', params: { traveller: 'R. Okafor' }, trigger: 'api' });
  const lastRun = lastNightlyRun(now);
  const cronId = `0 3 * * *-${lastRun}`;
  if (!wf('nightly-report').instances.has(cronId)) {
    deps.engine.create(wf('nightly-report'), {
      id: cronId,
      params: {},
      trigger: 'cron',
      schedule: { cron: '0 3 * * *', scheduledTime: lastRun },
    });
  }
  await deps.engine.settle();
}

/** The most recent 03:00 UTC at or before `now`: the nightly run the live engine owns. */
function lastNightlyRun(now: number): number {
  const today = Math.floor(now / DAY) * DAY + 3 * HOUR;
  return today <= now ? today : today - DAY;
}

/** Runs the finished demo history on a private engine whose clock starts at `t0`. */
async function runHistory(
  accountId: string,
  t0: number,
  until: number,
  classes: Map<string, WorkflowClass>,
): Promise<Map<string, WorkflowRecord>> {
  const clock = createManualClock(t0);
  const store = new Store(clock);
  const engine = new Engine({ clock, store, classes });
  const { account } = store.ensureAccount(accountId);
  for (const def of DEMO_WORKFLOWS) store.upsertWorkflow(account, def.name, def, t0);
  const wf = (name: string) => account.workflows.get(name)!;
  const advance = (ms: number) => clock.advance(ms, () => engine.settle());
  const create = (workflow: string, id: string, params: unknown): InstanceRecord =>
    engine.create(wf(workflow), { id, params, trigger: 'api' });

  // Orders: one shipped, one whose payment was refused, one terminated while waiting for approval.
  create('order-fulfillment', 'order-1001', { orderId: 'order-1001', customer: 'ada@example.com' });
  await advance(2 * MINUTE);
  engine.sendEvent(wf('order-fulfillment').instances.get('order-1001')!, 'payment-approved', { approved: true });
  await advance(HOUR);
  create('order-fulfillment', 'order-1002', { orderId: 'order-1002', customer: 'bob@example.com' });
  await advance(2 * MINUTE);
  engine.sendEvent(wf('order-fulfillment').instances.get('order-1002')!, 'payment-approved', { approved: false });
  await advance(HOUR);
  const terminated = create('order-fulfillment', 'order-1003', { orderId: 'order-1003', customer: 'cy@example.com' });
  await advance(5 * MINUTE);
  engine.terminate(terminated);

  // Imports: one that needed two retries, one that exhausted them.
  create('flaky-import', 'import-2024-01', { source: 'sftp://partner.example/2024-01' });
  await advance(5 * MINUTE);
  create('flaky-import', 'import-2024-02', { source: 'sftp://partner.example/2024-02', alwaysFail: true });
  await advance(5 * MINUTE);

  // Bookings: one confirmed, one declined and rolled back, one terminated with rollback.
  create('booking-saga', 'booking-501', { traveller: 'M. Rossi' });
  await advance(15 * MINUTE);
  create('booking-saga', 'booking-502', { traveller: 'J. Smith', failAt: 'payment' });
  await advance(15 * MINUTE);
  const held = create('booking-saga', 'booking-503', { traveller: 'L. Chen' });
  await advance(MINUTE);
  engine.terminate(held, true);
  await advance(MINUTE);

  // Nightly reports: the cron schedule fires on the private clock up to just before the live engine's run.
  engine.schedule(wf('nightly-report'));
  if (until > clock.now()) await advance(until - clock.now());
  engine.close();
  clock.dispose();
  const out = new Map<string, WorkflowRecord>();
  for (const workflow of account.workflows.values()) out.set(workflow.name, workflow);
  return out;
}
