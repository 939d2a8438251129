import type { Emulator } from '../../src/emulator/server.js';

/** Setting up data in the emulator through its REST API, behind the gateways' backs. */
export interface EmulatorSetup {
  /** Creates (or replaces) a workflow that runs the demo order-fulfillment code. */
  createWorkflow(workflowName: string): Promise<void>;
  /** Creates instances and waits until each sleeps (WAITING: on a manual clock nothing moves them on). */
  createInstances(workflowName: string, instanceIds: readonly string[]): Promise<void>;
  /** Terminates instances: the gateways learn of it only by polling. */
  terminate(workflowName: string, instanceIds: readonly string[]): Promise<void>;
}

/**
 * Calls the emulator of `accountId` with `apiToken`. Give it a token no gateway uses: the emulator counts its
 * rate limit per token, so the setup spends none of the gateways' budget.
 */
export function emulatorSetup(emulator: Emulator, accountId: string, apiToken: string): EmulatorSetup {
  const call = async (method: string, path: string, body: unknown) => {
    const response = await fetch(`${emulator.url}/accounts/${accountId}/workflows/${path}`, {
      method,
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  };
  return {
    createWorkflow: (workflowName) =>
      call('PUT', workflowName, { class_name: 'OrderFulfillmentWorkflow', script_name: 'shop-worker' }),
    async createInstances(workflowName, instanceIds) {
      // The batch endpoint takes at most 100 instances.
      for (let i = 0; i < instanceIds.length; i += 100)
        await call(
          'POST',
          `${workflowName}/instances/batch`,
          instanceIds.slice(i, i + 100).map((id) => ({ instance_id: id })),
        );
      for (const id of instanceIds) await emulator.engine.waitForStatus(accountId, workflowName, id, 'waiting');
    },
    terminate: (workflowName, instanceIds) => call('POST', `${workflowName}/instances/batch/terminate`, instanceIds),
  };
}
