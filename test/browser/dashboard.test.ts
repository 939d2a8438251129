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

let manifest: DashboardManifest;
let dashboard: StaticServer;
let foreign: StaticServer;
let gateway: GatewayProcess;
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
  // Settled together, so that afterAll stops whatever started when another part failed.
  const [built, started, openStarted, launched] = await Promise.allSettled([
    buildDashboardApp(),
    startGatewayProcess({
      EMULATOR_TIME_SCALE: TIME_SCALE,
      AUTH_MODE: 'api-key',
      API_KEYS_FILE: join(keysDir, 'keys.json'),
      // Only the dashboard's origin: the second static server is a foreign page (on loopback, like any other).
      CORS_ORIGINS: dashboard.origin,
      TRUSTED_DOCUMENTS_MODE: 'only',
      TRUSTED_DOCUMENTS: manifest.path,
    }),
    startGatewayProcess({
      EMULATOR_TIME_SCALE: TIME_SCALE,
      TRUSTED_DOCUMENTS_MODE: 'only',
      TRUSTED_DOCUMENTS: manifest.path,
    }),
    chromium.launch({ executablePath: CHROMIUM, headless: true }),
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
  await rm(keysDir, { recursive: true, force: true });
});

/** Resolves once `locator` is visible; fails after the deadline. */
const shows = (locator: Locator, timeout = SHOWS_WITHIN_MS): Promise<void> =>
  locator.first().waitFor({ state: 'visible', timeout });

const screenshot = (on: Page, name: string): Promise<Buffer> =>
  on.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/** The instance detail panel's status badge showing exactly `status`. */
const detailStatus = (on: Page, status: RegExp): Locator =>
  on.getByTestId('instance-detail').locator('.facts').getByTestId('status').filter({ hasText: status });

/** A request by hash of the manifest's operation `name`, as a client without an `Origin` (not a browser) sends it. */
async function byHash<T>(name: string, variables: Record<string, unknown>): Promise<{ status: number; data?: T }> {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key.key}` },
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
    expect(await statusOf('order-1004')).not.toBe('PAUSED');
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
    await shows(detailStatus(page, /^COMPLETE$/));
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
        // EventSource cannot send a credential: what it gets is all a page could read this way.
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
  });

  it('9. against the server as npm start runs it (no AUTH_MODE), works with no credential', async () => {
    const visitor = await browser.newPage();
    await visitor.goto(`${dashboard.origin}/?endpoint=${encodeURIComponent(openGateway.url)}`);
    await shows(visitor.getByTestId('workflow-order-fulfillment'));
    await visitor.getByRole('button', { name: 'order-fulfillment' }).click();
    await visitor.getByTestId('instance-row-order-1004').getByRole('button', { name: 'order-1004' }).click();
    await shows(detailStatus(visitor, /^WAITING$/));
    // Live over graphql-ws without a connection_init credential: a pause made elsewhere shows up.
    const paused = await fetch(openGateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        extensions: { persistedQuery: { version: 1, sha256Hash: manifest.hashOf('PauseInstance') } },
        variables: { input: { workflowName: 'order-fulfillment', instanceId: 'order-1004' } },
      }),
    });
    expect(paused.status).toBe(200);
    await shows(detailStatus(visitor, /^PAUSED$/));
    expect(await visitor.getByRole('alert').count()).toBe(0);
    await screenshot(visitor, '9-no-access-control');
    await visitor.close();
  });
});
