import { describe, expect, it } from 'vitest';
import {
  InstanceStatusChangedDocument as STATUS,
  type InstanceStatusChangedSubscription,
} from '../generated/operations.js';
import { subscribe, valuesOf, wsClient, type CollectedSubscription } from '../helpers/live.js';
import { startStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const WORKFLOW = 'order-fulfillment';
const INSTANCES = 500;
/** A scaled-down budget: 4 requests per second, as Cloudflare's 1200 per 5 minutes. */
const LIMIT = 60;
const WINDOW_S = 15;
/** The test's own setup calls use another token, so they do not eat the gateway's budget. */
const SETUP_TOKEN = 'live-budget-setup-token';

describe('polling under a small rate budget', () => {
  it('watches 500 instances without a single 429 and still delivers every change', { timeout: 60_000 }, async () => {
    const stack = await startStack({
      listen: true,
      emulator: { rateLimit: { limit: LIMIT, windowS: WINDOW_S } },
      config: {
        pollIntervalMs: 250,
        upstream: { rateLimit: LIMIT, rateWindowS: WINDOW_S },
        maxSubscriptionsPerConnection: 500,
      },
    });
    const base = `${stack.emulator.url}/accounts/${stack.config.upstream.accountId}/workflows/${WORKFLOW}/instances`;
    const ids = Array.from({ length: INSTANCES }, (_, i) => `budget-${i}`);
    const setup = async (path: string, body: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${SETUP_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status, await response.clone().text()).toBe(200);
    };
    for (let i = 0; i < INSTANCES; i += 100)
      await setup(
        '/batch',
        ids.slice(i, i + 100).map((id) => ({ instance_id: id })),
      );

    const client = wsClient(stack);
    const subs = new Map<string, CollectedSubscription<InstanceStatusChangedSubscription>>(
      ids.map((id) => [id, subscribe(client, STATUS, { workflowName: WORKFLOW, instanceId: id })]),
    );
    await waitFor(() => [...subs.values()].every((s) => s.results.length > 0), {
      message: 'a first event for every instance',
      timeoutMs: 30_000,
    });

    // One change for every instance: terminate them all (5 batch calls on the setup token).
    for (let i = 0; i < INSTANCES; i += 100) await setup('/batch/terminate', ids.slice(i, i + 100));
    await waitFor(() => [...subs.values()].every((s) => s.done), {
      message: 'every subscription to end with TERMINATED',
      timeoutMs: 30_000,
    });

    for (const [id, sub] of subs) {
      expect(sub.error, id).toBeUndefined();
      expect(valuesOf(sub.results, (d) => d.instanceStatusChanged?.status ?? 'null').at(-1), id).toBe('TERMINATED');
    }
    const refused = stack.emulator.requests.entries.filter((e) => e.status === 429);
    expect(refused).toEqual([]);
    expect(stack.app.live.stats().loops).toBe(0);
  });
});
