import { readFileSync } from 'node:fs';
import type { FormattedExecutionResult } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startStack } from '../helpers/stack.js';

const STATUS = readFileSync(new URL('../operations/live/InstanceStatusChanged.graphql', import.meta.url), 'utf8');
const WORKFLOW = 'order-fulfillment';
const INSTANCES = 500;
/** A scaled-down budget: 4 requests per second, as Cloudflare's 1200 per 5 minutes. */
const LIMIT = 60;
const WINDOW_S = 15;
/** The test's own setup calls use another token, so they do not eat the gateway's budget. */
const SETUP_TOKEN = 'live-budget-setup-token';

async function waitFor(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.dispose()));
});

describe('polling under a small rate budget', () => {
  it('watches 500 instances without a single 429 and still delivers every change', { timeout: 60_000 }, async () => {
    const stack = await startStack({
      listen: true,
      emulator: { rateLimit: { limit: LIMIT, windowS: WINDOW_S } },
      config: { pollIntervalMs: 250, upstream: { rateLimit: LIMIT, rateWindowS: WINDOW_S }, maxSubscriptionsPerConnection: 500 },
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
    for (let i = 0; i < INSTANCES; i += 100) await setup('/batch', ids.slice(i, i + 100).map((id) => ({ instance_id: id })));

    const client = createClient({ url: (stack.url as string).replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
    clients.push(client);
    const events = new Map<string, string[]>(ids.map((id) => [id, []]));
    const done = new Set<string>();
    for (const id of ids) {
      client.subscribe<{ instanceStatusChanged: { status: string } }>(
        { query: STATUS, variables: { workflowName: WORKFLOW, instanceId: id } },
        {
          next: (result: FormattedExecutionResult<{ instanceStatusChanged: { status: string } }, unknown>) =>
            events.get(id)?.push(result.data?.instanceStatusChanged.status ?? `error: ${result.errors?.[0]?.message}`),
          error: () => done.add(id),
          complete: () => done.add(id),
        },
      );
    }
    await waitFor(() => [...events.values()].every((e) => e.length > 0), 'a first event for every instance', 30_000);

    // One change for every instance: terminate them all (5 batch calls on the setup token).
    for (let i = 0; i < INSTANCES; i += 100) await setup('/batch/terminate', ids.slice(i, i + 100));
    await waitFor(() => done.size === INSTANCES, 'every subscription to end with TERMINATED', 30_000);

    for (const id of ids) expect(events.get(id)?.at(-1), id).toBe('TERMINATED');
    const refused = stack.emulator.requests.entries.filter((e) => e.status === 429);
    expect(refused).toEqual([]);
    expect(stack.app.live.stats().loops).toBe(0);
  });
});
