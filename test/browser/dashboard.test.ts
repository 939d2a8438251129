import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import {
  buildDashboardApp,
  DASHBOARD,
  generateDashboardOperations,
  type DashboardManifest,
} from '../helpers/dashboard-build.js';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.js';
import { ROOT } from '../helpers/process.js';
import { startStaticServer, type StaticServer } from '../helpers/static-server.js';
import { eventually } from '../helpers/wait.js';

/**
 * The example dashboard (examples/dashboard), built as its README says, in Debian's Chromium against the server in
 * local mode (`npm start`: the embedded emulator and its demo data) with access control on (`AUTH_MODE=api-key`,
 * `CORS_ORIGINS` naming the dashboard's origin), and against a second one with neither (step 9). Both run with
 * `TRUSTED_DOCUMENTS_MODE=only` and the manifest the build wrote, so every request the page makes proves the
 * manifest right. Screenshots of each state go to test-artifacts/browser/ (git-ignored).
 */

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts/browser');
/** An emulated minute per real second: the demo's 1-minute `cool-off` sleep takes one second. */
const TIME_SCALE = '60';
/** How long the page may take to show what a live event or a click brings. */
const SHOWS_WITHIN_MS = 15_000;
/** After the server is back: the dashboard's graphql-ws client waits at most about 6 s between attempts. */
const RECONNECTS_WITHIN_MS = 30_000;
/** A host name Chromium resolves to 127.0.0.1 (`--host-resolver-rules`): an endpoint that is not loopback by name. */
const ELSEWHERE = 'elsewhere.test';

let manifest: DashboardManifest;
let dashboard: StaticServer;
let foreign: StaticServer;
let gateway: GatewayProcess;
/** How `gateway` was started: step 10 starts it again the same way, on the same port. */
let gatewayEnv: Record<string, string>;
/** The server without access control: no AUTH_MODE, and CORS_ORIGINS unset (pages from loopback may use it). */
let openGateway: GatewayProcess;
let browser: Browser;
let page: Page;
let keysDir: string;
const key = createApiKey({ id: 'dashboard', scopes: ['workflows:read', 'workflows:write'] });
const readOnlyKey = createApiKey({ id: 'viewer', scopes: ['workflows:read'] });

beforeAll(async () => {
  // .ci/run installs chromium; a machine without it fails here rather than skipping the browser test.
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (as .ci/run does)`);
  await mkdir(ARTIFACTS, { recursive: true });
  keysDir = await mkdtemp(join(tmpdir(), 'dashboard-keys-'));
  await writeFile(join(keysDir, 'keys.json'), JSON.stringify([key.entry, readOnlyKey.entry]));
  // The static servers first: the gateway's CORS_ORIGINS names the dashboard's origin. They serve
  // examples/dashboard/dist, which the build fills while the gateway starts with the manifest codegen wrote.
  [dashboard, foreign] = await Promise.all([
    startStaticServer(join(DASHBOARD, 'dist')),
    startStaticServer(join(DASHBOARD, 'dist')),
  ]);
  manifest = await generateDashboardOperations();
  gatewayEnv = {
    EMULATOR_TIME_SCALE: TIME_SCALE,
    AUTH_MODE: 'api-key',
    API_KEYS_FILE: join(keysDir, 'keys.json'),
    // Only the dashboard's origin: the second static server is a foreign page (on loopback, like any other).
    CORS_ORIGINS: dashboard.origin,
    TRUSTED_DOCUMENTS_MODE: 'only',
    TRUSTED_DOCUMENTS: manifest.path,
  };
  // Settled together, so that afterAll stops whatever started when another part failed.
  const [built, started, openStarted, launched] = await Promise.allSettled([
    buildDashboardApp(),
    startGatewayProcess(gatewayEnv),
    startGatewayProcess({
      EMULATOR_TIME_SCALE: TIME_SCALE,
      TRUSTED_DOCUMENTS_MODE: 'only',
      TRUSTED_DOCUMENTS: manifest.path,
    }),
    chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // No DNS: the name stays on this machine (step 9's warning).
      args: [`--host-resolver-rules=MAP ${ELSEWHERE} 127.0.0.1`],
    }),
  ]);
  if (started.status === 'fulfilled') gateway = started.value;
  if (openStarted.status === 'fulfilled') openGateway = openStarted.value;
  if (launched.status === 'fulfilled') browser = launched.value;
  for (const outcome of [built, started, openStarted, launched])
    if (outcome.status === 'rejected') throw outcome.reason;
  page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
}, 60_000);

// The page as it was when a step failed, beside the screenshots of the states that passed.
beforeEach(({ task, onTestFailed }) => {
  onTestFailed(async () => {
    await screenshot(page, `failed-${task.name.split('.')[0]}`);
  });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([gateway?.stop(), openGateway?.stop()]);
  // Unset when beforeAll failed before creating it (Chromium missing): its error is the one to report.
  if (keysDir !== undefined) await rm(keysDir, { recursive: true, force: true });
});

/** Resolves once `locator` is visible; fails after the deadline. */
const shows = (locator: Locator, timeout = SHOWS_WITHIN_MS): Promise<void> =>
  locator.first().waitFor({ state: 'visible', timeout });

const screenshot = (on: Page, name: string): Promise<Buffer> =>
  on.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/** The instance detail panel's status badge showing exactly `status`. */
const detailStatus = (on: Page, status: RegExp): Locator =>
  on.getByTestId('instance-detail').locator('.facts').getByTestId('status').filter({ hasText: status });

/**
 * A request by hash of the manifest's operation `name`, as a client without an `Origin` (not a browser) sends it:
 * to `gateway` with the full key, unless `to` names another server and its credential (none: no header).
 */
async function byHash<T>(
  name: string,
  variables: Record<string, unknown>,
  to: { url: string; credential?: string } = { url: gateway.url, credential: key.key },
): Promise<{ status: number; data?: T }> {
  const response = await fetch(to.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(to.credential === undefined ? {} : { authorization: `Bearer ${to.credential}` }),
    },
    body: JSON.stringify({
      extensions: { persistedQuery: { version: 1, sha256Hash: manifest.hashOf(name) } },
      variables,
    }),
  });
  return { status: response.status, ...((await response.json()) as { data?: T }) };
}

async function statusOf(instanceId: string): Promise<string | undefined> {
  const { data } = await byHash<{ instance: { status: string } | null }>('Instance', {
    workflowName: 'order-fulfillment',
    instanceId,
  });
  return data?.instance?.status;
}

describe('the example dashboard in Chromium', () => {
  it('1. opens, asks for the credential, and then shows the demo workflows with their counts', async () => {
    await page.goto(`${dashboard.origin}/?endpoint=${encodeURIComponent(gateway.url)}`);
    // Without a key the server refuses, and the page says so.
    await shows(page.getByRole('alert').filter({ hasText: 'UNAUTHENTICATED' }));
    await page.getByLabel('API key or token').fill(key.key);
    await page.getByRole('button', { name: 'Connect' }).click();
    for (const name of ['order-fulfillment', 'flaky-import', 'nightly-report', 'booking-saga'])
      await shows(page.getByTestId(`workflow-${name}`));
    expect(await page.getByTestId('workflow-order-fulfillment').getByTestId('total').textContent()).toBe('4');
    // The demo's order-1003 was terminated (src/emulator/demo/seed.ts).
    expect(await page.getByTestId('workflow-order-fulfillment').getByTestId('terminated').textContent()).toBe('1');
    // A loopback endpoint: no warning about where the key goes.
    expect(await page.getByTestId('endpoint-warning').count()).toBe(0);
    await screenshot(page, '1-workflows');
  });

  it('2. creates an order-fulfillment instance, which the list shows without a reload', async () => {
    await page.evaluate(() => Object.assign(window, { loadedOnce: true }));
    await page.getByRole('button', { name: 'order-fulfillment' }).click();
    await shows(page.getByTestId('instance-row-order-1004'));
    await page.getByLabel('New instance id').fill('browser-order-1');
    await page.getByLabel('Params (JSON)').fill('{ "orderId": "B-1", "customer": "eve@example.com" }');
    await page.getByRole('button', { name: 'Create instance' }).click();
    await shows(page.getByRole('status').filter({ hasText: 'Created browser-order-1' }));
    await shows(page.getByTestId('instance-row-browser-order-1'));
    await shows(page.getByTestId('workflow-order-fulfillment').getByTestId('total').filter({ hasText: /^5$/ }));
    await screenshot(page, '2-created');
  });

  it('3. watches it reach WAITING live, with the step timeline', async () => {
    await shows(detailStatus(page, /^WAITING$/));
    await shows(
      page
        .getByTestId('instance-row-browser-order-1')
        .getByTestId('status')
        .filter({ hasText: /^WAITING$/ }),
    );
    const timeline = page.getByRole('region', { name: 'Step timeline' });
    for (const step of ['validate-order-1', 'reserve-inventory-1', 'charge-card-1', 'cool-off-1'])
      await shows(timeline.getByText(step));
    await screenshot(page, '3-waiting');
  });

  it('4. sends payment-approved with { "approved": true } and sees COMPLETE without reloading', async () => {
    await page.getByLabel('Event type').fill('payment-approved');
    await page.getByLabel('Event payload (JSON)').fill('{ "approved": true }');
    await page.getByRole('button', { name: 'Send event' }).click();
    await shows(page.getByRole('status').filter({ hasText: 'Event payment-approved sent.' }));
    await shows(detailStatus(page, /^COMPLETE$/));
    await shows(
      page
        .getByTestId('instance-row-browser-order-1')
        .getByTestId('status')
        .filter({ hasText: /^COMPLETE$/ }),
    );
    expect(await page.evaluate(() => (window as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    // The full output of a step, fetched on demand.
    await page.getByRole('button', { name: 'Full output of ship-order-1' }).click();
    await shows(page.getByTestId('full-output-ship-order-1').filter({ hasText: '"trackingNumber": "3SB1NL"' }));
    expect(await statusOf('browser-order-1')).toBe('COMPLETE');
    await screenshot(page, '4-complete');
  });

  it('5. pauses and resumes another instance (order-1004, found with the status filter)', async () => {
    await page.getByLabel('Status').selectOption('WAITING');
    await page.getByTestId('instance-row-order-1004').getByRole('button', { name: 'order-1004' }).click();
    await shows(detailStatus(page, /^WAITING$/));
    await page.getByRole('button', { name: 'Pause' }).click();
    await shows(detailStatus(page, /^PAUSED$/));
    expect(await page.getByRole('button', { name: 'Pause' }).isDisabled()).toBe(true);
    await screenshot(page, '5-paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await shows(detailStatus(page, /^(QUEUED|RUNNING|WAITING)$/));
    expect(await page.getByRole('button', { name: 'Resume' }).isDisabled()).toBe(true);
    expect(['QUEUED', 'RUNNING', 'WAITING']).toContain(await statusOf('order-1004'));
    await screenshot(page, '5-resumed');
  });

  it('6. shows a readable message when the server refuses an action, and restarts the instance once allowed', async () => {
    await page.getByLabel('Status').selectOption('');
    await page.getByTestId('instance-row-browser-order-1').getByRole('button', { name: 'browser-order-1' }).click();
    await shows(detailStatus(page, /^COMPLETE$/));
    await page.getByLabel('Event type').fill('payment-approved');
    await page.getByRole('button', { name: 'Send event' }).click();
    await shows(page.getByRole('alert').filter({ hasText: 'Cannot send an event to an instance that is complete.' }));
    await screenshot(page, '6-refused');

    // A key without workflows:write: the ForbiddenError member, as a sentence; the instance was not restarted.
    await page.getByLabel('API key or token').fill(readOnlyKey.key);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('button', { name: 'Restart' }).click();
    await shows(
      page.getByRole('alert').filter({ hasText: 'Not allowed: your credential lacks the workflows:write scope.' }),
    );
    expect(await statusOf('browser-order-1')).toBe('COMPLETE');
    await screenshot(page, '6-forbidden');

    // With the full key the restart runs, and the finished instance comes back to life on the page.
    await page.getByLabel('API key or token').fill(key.key);
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('button', { name: 'Restart' }).click();
    await shows(page.getByRole('status').filter({ hasText: 'Restarted' }));
    await shows(detailStatus(page, /^(QUEUED|RUNNING|WAITING)$/));
    await shows(detailStatus(page, /^WAITING$/));
    await screenshot(page, '6-restarted');
  });

  it('7. pages through the instances with the Relay cursors', async () => {
    // A sixth order instance: five make a page.
    const created = await byHash<{ createInstance: { __typename: string } }>('CreateInstance', {
      input: { workflowName: 'order-fulfillment', instanceId: 'browser-order-2' },
    });
    expect(created.data?.createInstance.__typename).toBe('CreateInstancePayload');
    // Newest first: the new instance arrives live on the first page, and the oldest moves to the next one.
    await shows(page.getByTestId('instance-row-browser-order-2'));
    await shows(page.getByRole('button', { name: 'Next page' }).and(page.locator(':enabled')));
    await page.getByRole('button', { name: 'Next page' }).click();
    await shows(page.getByTestId('instance-row-order-1001'));
    expect(await page.getByTestId('instance-row-browser-order-2').count()).toBe(0);
    await screenshot(page, '7-next-page');
    await page.getByRole('button', { name: 'Previous page' }).click();
    await shows(page.getByTestId('instance-row-browser-order-2'));
    expect(await page.getByTestId('instance-row-order-1001').count()).toBe(0);
  });

  it('8. a page from a foreign origin reads nothing and changes nothing, over HTTP, SSE or WebSocket, with a valid key', async () => {
    // A waiting instance for the foreign page to try to pause.
    const created = await byHash<{ createInstance: { __typename: string } }>('CreateInstance', {
      input: { workflowName: 'order-fulfillment', instanceId: 'foreign-target' },
    });
    expect(created.data?.createInstance.__typename).toBe('CreateInstancePayload');
    await eventually(async () => (await statusOf('foreign-target')) === 'WAITING', {
      message: 'foreign-target to wait',
    });

    const attacker = await browser.newPage();
    await attacker.goto(`${foreign.origin}/?endpoint=${encodeURIComponent(gateway.url)}`);
    await attacker.getByLabel('API key or token').fill(key.key);
    await attacker.getByRole('button', { name: 'Connect' }).click();
    await shows(attacker.getByRole('alert').filter({ hasText: 'does not accept requests from this page' }));
    expect(await attacker.getByTestId('workflow-order-fulfillment').count()).toBe(0);

    // EventSource cannot set a header, and this server takes credentials from headers only: on its way out, the
    // probe's request gets the valid key added (as an ambient credential such as a cookie would travel), so that the
    // only thing left to refuse it is the origin check. Playwright sends the request as the page built it (its
    // foreign `Origin` included) with the key, keeps what the server answered, and hands that to the page.
    const eventSourceRequests: { headers: Record<string, string>; status: number; body: string }[] = [];
    await attacker.route(
      (url) => url.searchParams.has('extensions'),
      async (route) => {
        const headers = { ...(await route.request().allHeaders()), authorization: `Bearer ${key.key}` };
        const response = await route.fetch({ headers });
        eventSourceRequests.push({ headers, status: response.status(), body: await response.text() });
        await route.fulfill({ response });
      },
    );

    const attempts = await attacker.evaluate(
      async ({ url, authorization, workflows, pause }) => {
        const persisted = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });
        const outcome = (request: Promise<Response>) =>
          request.then(
            async (response) => `read ${response.status}: ${await response.text()}`,
            (error: Error) => `blocked: ${error.name}`,
          );
        const headers = { 'content-type': 'application/json', authorization };
        const httpRead = await outcome(
          fetch(url, { method: 'POST', headers, body: JSON.stringify({ extensions: persisted(workflows) }) }),
        );
        const sseRead = await outcome(
          fetch(url, {
            method: 'POST',
            headers: { ...headers, accept: 'text/event-stream' },
            body: JSON.stringify({ extensions: persisted(workflows) }),
          }),
        );
        const pauseInput = { input: { workflowName: 'order-fulfillment', instanceId: 'foreign-target' } };
        const httpWrite = await outcome(
          fetch(url, {
            method: 'POST',
            headers,
            body: JSON.stringify({ extensions: persisted(pause), variables: pauseInput }),
          }),
        );
        // The classic cross-site write: a plain-text POST, which browsers send without asking (no preflight).
        const simpleWrite = await fetch(url, {
          method: 'POST',
          mode: 'no-cors',
          headers: { 'content-type': 'text/plain' },
          body: JSON.stringify({ extensions: persisted(pause), variables: pauseInput }),
        }).then(
          (response) => `sent, opaque: ${response.type}`,
          (error: Error) => `blocked: ${error.name}`,
        );
        // Sent with the key (see the route above): what it gets is all a page could read this way.
        const eventSource = await new Promise<string>((resolve) => {
          const source = new EventSource(
            `${url}?extensions=${encodeURIComponent(JSON.stringify(persisted(workflows)))}`,
          );
          source.onmessage = (event) => resolve(`read: ${String(event.data)}`);
          source.onerror = () => {
            source.close();
            resolve('error, nothing read');
          };
        });
        // Browsers apply no CORS to WebSockets: the server must refuse the upgrade itself.
        const webSocket = await new Promise<string>((resolve) => {
          const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
          const received: string[] = [];
          socket.onopen = () => {
            socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } }));
            socket.send(
              JSON.stringify({
                id: '1',
                type: 'subscribe',
                payload: { query: '', extensions: persisted(pause), variables: pauseInput },
              }),
            );
          };
          socket.onmessage = (event) => received.push(String(event.data));
          socket.onclose = (event) =>
            resolve(received.length === 0 ? `closed ${event.code}, nothing read` : `read: ${received.join(' ')}`);
        });
        return { httpRead, sseRead, httpWrite, simpleWrite, eventSource, webSocket };
      },
      {
        url: gateway.url,
        authorization: `Bearer ${key.key}`,
        workflows: manifest.hashOf('Workflows'),
        pause: manifest.hashOf('PauseInstance'),
      },
    );
    await screenshot(attacker, '8-foreign-origin');
    await attacker.close();
    // It carried the foreign origin and the valid key, and the origin check refused it (EventSource does not retry
    // after a 403).
    expect(
      eventSourceRequests.map(({ headers, status, body }) => ({
        origin: headers['origin'],
        authorization: headers['authorization'],
        status,
        code: (JSON.parse(body) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code,
      })),
    ).toEqual([
      { origin: foreign.origin, authorization: `Bearer ${key.key}`, status: 403, code: 'ORIGIN_NOT_ALLOWED' },
    ]);

    expect(attempts).toEqual({
      httpRead: 'blocked: TypeError',
      sseRead: 'blocked: TypeError',
      httpWrite: 'blocked: TypeError',
      simpleWrite: 'sent, opaque: opaque',
      eventSource: 'error, nothing read',
      webSocket: 'closed 1006, nothing read',
    });
    // Nothing changed: the instance still waits. The same key and hash work from a client without an Origin,
    // so the origin is what was refused.
    expect(await statusOf('foreign-target')).toBe('WAITING');
    const control = await byHash<{ workflows: { nodes: unknown[] } }>('Workflows', {});
    expect(control.status).toBe(200);
    expect(control.data?.workflows.nodes).toHaveLength(4);
    // So does the EventSource's request: the same GET with the key and no Origin reads the workflows.
    const persisted = { persistedQuery: { version: 1, sha256Hash: manifest.hashOf('Workflows') } };
    const sseControl = await fetch(`${gateway.url}?extensions=${encodeURIComponent(JSON.stringify(persisted))}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${key.key}` },
    });
    expect(sseControl.status).toBe(200);
    expect(await sseControl.text()).toContain('"order-fulfillment"');
  });

  it('9. against the server as npm start runs it (no AUTH_MODE), works with no credential', async () => {
    const visitor = await browser.newPage();
    await visitor.goto(`${dashboard.origin}/?endpoint=${encodeURIComponent(openGateway.url)}`);
    await shows(visitor.getByTestId('workflow-order-fulfillment'));
    await visitor.getByRole('button', { name: 'order-fulfillment' }).click();
    await visitor.getByTestId('instance-row-order-1004').getByRole('button', { name: 'order-1004' }).click();
    await shows(detailStatus(visitor, /^WAITING$/));
    // Live over graphql-ws without a connection_init credential: a pause made elsewhere shows up.
    const paused = await byHash<{ pauseInstance: { __typename: string } }>(
      'PauseInstance',
      { input: { workflowName: 'order-fulfillment', instanceId: 'order-1004' } },
      { url: openGateway.url },
    );
    expect(paused.data?.pauseInstance.__typename).toBe('PauseInstancePayload');
    await shows(detailStatus(visitor, /^PAUSED$/));
    expect(await visitor.getByRole('alert').count()).toBe(0);
    await screenshot(visitor, '9-no-access-control');
    await visitor.close();
  });

  it("10. warns when the endpoint, which a link can set, is neither the page's origin nor loopback", async () => {
    const visitor = await browser.newPage();
    const elsewhere = openGateway.url.replace('127.0.0.1', ELSEWHERE);
    await visitor.goto(`${dashboard.origin}/?endpoint=${encodeURIComponent(elsewhere)}`);
    await shows(visitor.getByTestId('endpoint-warning').filter({ hasText: `go to ${new URL(elsewhere).origin}:` }));
    await screenshot(visitor, '10-endpoint-warning');
    // Back on a loopback endpoint, the warning goes.
    await visitor.getByLabel('GraphQL endpoint').fill(openGateway.url);
    await visitor.getByRole('button', { name: 'Connect' }).click();
    await shows(visitor.getByTestId('workflow-order-fulfillment'));
    expect(await visitor.getByTestId('endpoint-warning').count()).toBe(0);
    await visitor.close();
  });

  it('11. follows the server through a restart on the same port, without a reload or a lasting alert', async () => {
    // The first page of all order instances, with one the steps above created; the open instance is browser-order-1.
    await page.getByLabel('Status').selectOption('WAITING');
    await page.getByLabel('Status').selectOption('');
    await shows(page.getByTestId('instance-row-browser-order-2'));
    await shows(detailStatus(page, /^[A-Z_]+$/));

    // SIGTERM ends every subscription with SHUTTING_DOWN, which graphql-ws does not retry by itself.
    const url = gateway.url;
    await gateway.stop();
    gateway = await startGatewayProcess({ ...gatewayEnv, PORT: new URL(url).port });
    expect(gateway.url).toBe(url);

    // Local mode: the emulator starts again with its demo data alone. The page asks its queries again once its live
    // connection is back (the events sent meanwhile are not replayed), and the instances made above are gone.
    const total = page.getByTestId('workflow-order-fulfillment').getByTestId('total');
    await shows(total.filter({ hasText: /^4$/ }), RECONNECTS_WITHIN_MS);
    await page.getByTestId('instance-row-browser-order-2').waitFor({ state: 'detached', timeout: SHOWS_WITHIN_MS });
    // `instanceUpdated` subscribed again: its first event says the open instance does not exist any more.
    await shows(page.getByTestId('instance-detail').getByRole('alert').filter({ hasText: 'does not exist' }));

    // `workflowInstancesChanged` subscribed again: an instance created through the HTTP API shows up.
    const created = await byHash<{ createInstance: { __typename: string } }>('CreateInstance', {
      input: { workflowName: 'order-fulfillment', instanceId: 'after-restart-1' },
    });
    expect(created.data?.createInstance.__typename).toBe('CreateInstancePayload');
    await shows(page.getByTestId('instance-row-after-restart-1'));
    await shows(total.filter({ hasText: /^5$/ }));
    expect(await page.evaluate(() => (window as { loadedOnce?: boolean }).loadedOnce)).toBe(true);
    expect(
      await page
        .getByRole('alert')
        .filter({ hasText: /SHUTTING_DOWN|Live updates stopped/ })
        .count(),
    ).toBe(0);
    await screenshot(page, '11-after-restart');
  }, 120_000);
});
