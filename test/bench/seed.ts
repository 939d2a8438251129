import { BENCH_CLASS, type BenchParams } from './bench-workflow.js';
import { createRest } from './rest.js';
import { ACCOUNT_ID, ORCHESTRATOR_TOKEN, type EmulatorProcess } from './stack.js';

export interface Seeded {
  readonly workflowName: string;
  readonly instanceIds: readonly string[];
}

/**
 * Creates workflow `workflowName` (running {@link BENCH_CLASS}) with `count` instances through the REST API,
 * under the orchestrator's own token, and returns once every instance is `running` its hold step.
 * `holdMs(i)` sets how long instance `i` runs before it completes (default: longer than any run).
 */
export async function seedWorkflow(
  emulator: EmulatorProcess,
  workflowName: string,
  count: number,
  holdMs?: (index: number) => number,
): Promise<Seeded> {
  const rest = createRest(emulator.url, ACCOUNT_ID, ORCHESTRATOR_TOKEN);
  try {
    await rest.putWorkflow(workflowName, BENCH_CLASS);
    const items = Array.from({ length: count }, (_, i) => {
      const params: BenchParams = {
        ...(holdMs === undefined ? {} : { holdMs: holdMs(i) }),
        order: {
          customer: `customer-${i}`,
          lines: [
            { sku: 'KB-104', quantity: 1 },
            { sku: 'MS-220', quantity: 2 },
          ],
        },
      };
      return { instanceId: `${workflowName}-${String(i).padStart(4, '0')}`, params };
    });
    const instanceIds = await rest.createInstances(workflowName, items);
    if (instanceIds.length !== count)
      throw new Error(`created ${instanceIds.length} of ${count} instances of ${workflowName}`);
    await emulator.waitForStatus({ workflowName, instanceIds, statuses: ['running'], timeoutMs: 30_000 });
    return { workflowName, instanceIds };
  } finally {
    await rest.close();
  }
}
