import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Cloudflare from 'cloudflare';
import { describe, expect, it } from 'vitest';
import type { Emulator, EmulatorOptions } from '../../src/emulator/server.js';
import { ACCOUNT, sdk, startEmulator } from './support.js';

const OTHER = 'fedcba9876543210fedcba9876543210';
const WRITER_A = 'writer-a-3f9c1e';
const READER_A = 'reader-a-91d2b7';
const WRITER_B = 'writer-b-44e0a5';
const TOKENS: EmulatorOptions['tokens'] = {
  [WRITER_A]: { accounts: [ACCOUNT], write: true },
  [READER_A]: { accounts: [ACCOUNT], write: false },
  [WRITER_B]: { accounts: [OTHER], write: true },
};
const ALL_TOKENS = [WRITER_A, READER_A, WRITER_B];

interface Answer {
  status: number;
  text: string;
  body: { success: boolean; errors: { code: number; message: string }[]; result: unknown };
}

/** Raw HTTP: `path` is relative to `/accounts/{account}/workflows`. Every answer's text is kept in `seen`. */
function client(emulator: Emulator, seen: string[] = []) {
  return async (
    token: string,
    account: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = { authorization: `Bearer ${token}` },
  ): Promise<Answer> => {
    const response = await fetch(`${emulator.url}/accounts/${account}/workflows${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    seen.push(text, JSON.stringify([...response.headers]));
    return { status: response.status, text, body: JSON.parse(text) as Answer['body'] };
  };
}

/** What an account holds, read with a token that may read it: settings, workflows, versions, instances and statuses. */
async function snapshot(call: ReturnType<typeof client>, token: string, account: string) {
  const read = async (path: string) => {
    const answer = await call(token, account, 'GET', path);
    expect(answer.status, path).toBe(200);
    return answer.body.result;
  };
  const workflows = (await read('?per_page=100')) as { name: string }[];
  const state: Record<string, unknown> = { settings: await read('/settings') };
  for (const { name } of workflows) {
    state[name] = {
      workflow: await read(`/${name}`),
      versions: await read(`/${name}/versions?per_page=100`),
      instances: ((await read(`/${name}/instances?per_page=100`)) as { id: string; status: string }[])
        .map(({ id, status }) => `${id}:${status}`)
        .sort(),
    };
  }
  return state;
}

/** The rows of the endpoint table in docs/upstream-contract.md §2, as `METHOD path`. */
function documentedRoutes(): string[] {
  const doc = readFileSync(resolve(import.meta.dirname, '../../docs/upstream-contract.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## 2. Endpoints'), doc.indexOf('## 3. Endpoints in detail'));
  return [...section.matchAll(/^\| \d+ \| ([A-Z]+) \| `([^`]*)` \|/gm)].map(([, method, path]) => `${method} ${path}`);
}

const expectRefused = (answer: Answer, code: number, status: number) => {
  expect({ status: answer.status, success: answer.body.success, result: answer.body.result }).toEqual({
    status,
    success: false,
    result: null,
  });
  expect(answer.body.errors).toHaveLength(1);
  expect(answer.body.errors[0]!.code).toBe(code);
};

describe('emulator tokens', () => {
  it('answers an unknown, missing or malformed credential with 401 and code 9106', async () => {
    const emulator = await startEmulator({ tokens: TOKENS });
    const call = client(emulator);
    expectRefused(await call('nobody-knows-me', ACCOUNT, 'GET', ''), 9106, 401);
    expectRefused(await call('', ACCOUNT, 'GET', '', undefined, {}), 9106, 401);
    expectRefused(await call('', ACCOUNT, 'GET', '', undefined, { authorization: `Basic ${READER_A}` }), 9106, 401);
    const legacy = { 'x-auth-email': 'a@example.com' };
    expectRefused(await call('', ACCOUNT, 'GET', '', undefined, { ...legacy, 'x-auth-key': 'unknown' }), 9106, 401);
    // A token is looked up as a key of the table, never as a property of an object.
    expectRefused(await call('toString', ACCOUNT, 'GET', ''), 9106, 401);
    // The legacy key plays the part of the token.
    expect((await call('', ACCOUNT, 'GET', '', undefined, { ...legacy, 'x-auth-key': READER_A })).status).toBe(200);
    expect((await call(READER_A, ACCOUNT, 'GET', '')).status).toBe(200);

    const refused = await sdk(emulator, { apiToken: 'nobody-knows-me' })
      .workflows.list({ account_id: ACCOUNT })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Cloudflare.AuthenticationError);
    expect((refused as InstanceType<typeof Cloudflare.APIError>).errors).toEqual([
      { code: 9106, message: 'Authentication failed: the API token is not valid for this emulator' },
    ]);
  });

  it('lets a read-only token read every documented route and refuses every write with 403, code 10000, changing nothing', async () => {
    const emulator = await startEmulator({ tokens: TOKENS });
    const seen: string[] = [];
    const call = client(emulator, seen);
    const versions = (await call(READER_A, ACCOUNT, 'GET', '/order-fulfillment/versions')).body.result as {
      id: string;
    }[];
    const version = `/order-fulfillment/versions/${versions[0]!.id}`;
    // One request per row of docs/upstream-contract.md §2, writes in an order in which they all succeed.
    const requests: Record<string, { path: string; body?: unknown }> = {
      'GET ': { path: '' },
      'GET /{workflow_name}': { path: '/order-fulfillment' },
      'GET /{workflow_name}/versions': { path: '/order-fulfillment/versions' },
      'GET /{workflow_name}/versions/{version_id}': { path: version },
      'GET /{workflow_name}/versions/{version_id}/graph': { path: `${version}/graph` },
      'GET /{workflow_name}/versions/{version_id}/dag': { path: `${version}/dag` },
      'GET /{workflow_name}/instances': { path: '/order-fulfillment/instances' },
      'GET /{workflow_name}/instances/{instance_id}': { path: '/order-fulfillment/instances/order-1001' },
      'GET /{workflow_name}/instances/{instance_id}/step': {
        path: '/order-fulfillment/instances/order-1001/step?name=validate-order-1&type=step',
      },
      'GET /{workflow_name}/instances/terminate': { path: '/nightly-report/instances/terminate' },
      'GET /settings': { path: '/settings' },
      'PATCH /settings': { path: '/settings', body: { default_retention: { success_retention: '20 days' } } },
      'PUT /{workflow_name}': { path: '/scratch', body: { class_name: 'FlakyImportWorkflow', script_name: 's' } },
      'POST /{workflow_name}/instances': { path: '/flaky-import/instances', body: { instance_id: 'new-1' } },
      'POST /{workflow_name}/instances/batch': {
        path: '/flaky-import/instances/batch',
        body: [{ instance_id: 'new-2' }, { instance_id: 'new-3' }],
      },
      'POST /{workflow_name}/instances/{instance_id}/events/{event_type}': {
        path: '/order-fulfillment/instances/order-1004/events/payment-approved',
        body: { approved: true },
      },
      'PATCH /{workflow_name}/instances/{instance_id}/status': {
        path: '/booking-saga/instances/booking-504/status',
        body: { status: 'terminate' },
      },
      'POST /{workflow_name}/instances/batch/terminate': {
        path: '/order-fulfillment/instances/batch/terminate',
        body: ['order-1004'],
      },
      'PUT /{workflow_name}/instances/terminate': { path: '/nightly-report/instances/terminate' },
      'DELETE /{workflow_name}/instances/{instance_id}': { path: '/order-fulfillment/instances/order-1001' },
      'POST /{workflow_name}/instances/batch/delete': {
        path: '/order-fulfillment/instances/batch/delete',
        body: { instances: ['order-1002'] },
      },
      'DELETE /{workflow_name}': { path: '/scratch' },
    };
    expect(Object.keys(requests).sort()).toEqual(documentedRoutes().sort());
    const writes = Object.keys(requests).filter((route) => !route.startsWith('GET '));
    expect(writes).toHaveLength(11);

    const before = await snapshot(call, READER_A, ACCOUNT);
    for (const [route, { path, body }] of Object.entries(requests)) {
      const answer = await call(READER_A, ACCOUNT, route.split(' ')[0]!, path, body);
      if (route.startsWith('GET ')) expect(answer.status, route).toBe(200);
      else {
        expectRefused(answer, 10000, 403);
        expect(answer.body.errors[0]!.message, route).toMatch(/^Authentication error: .*read-only/);
      }
    }
    expect(await snapshot(call, READER_A, ACCOUNT)).toEqual(before);

    // The same writes are valid ones: a token allowed to write carries every one of them out.
    for (const route of writes) {
      const { path, body } = requests[route]!;
      expect((await call(WRITER_A, ACCOUNT, route.split(' ')[0]!, path, body)).status, route).toBe(200);
    }
    expect(await snapshot(call, READER_A, ACCOUNT)).not.toEqual(before);

    const log = JSON.stringify(emulator.requests.entries);
    expect(emulator.requests.count({ method: 'PATCH' })).toBe(4);
    for (const token of ALL_TOKENS) {
      expect(seen.join('\n')).not.toContain(token);
      expect(log).not.toContain(token);
    }
  });

  it('refuses the writes of a read-only token through the SDK', async () => {
    const emulator = await startEmulator({ tokens: TOKENS });
    const reader = sdk(emulator, { apiToken: READER_A });
    const account_id = ACCOUNT;
    const p = { account_id, workflow_name: 'order-fulfillment' };
    expect((await reader.workflows.instances.get('order-1004', p)).status).toBe('waiting');
    const refusals = await Promise.all(
      [
        reader.workflows.instances.create('order-fulfillment', { account_id, instance_id: 'sdk-1' }),
        reader.workflows.instances.bulk('order-fulfillment', { account_id, body: [{ instance_id: 'sdk-2' }] }),
        reader.workflows.instances.status.edit('order-1004', { ...p, status: 'terminate' }),
        reader.workflows.instances.events.create('payment-approved', { ...p, instance_id: 'order-1004', body: {} }),
        reader.workflows.update('order-fulfillment', {
          account_id,
          class_name: 'FlakyImportWorkflow',
          script_name: 's',
        }),
        reader.workflows.delete('order-fulfillment', { account_id }),
      ].map((promise) =>
        promise.then(
          () => 'allowed',
          (e: unknown) => e,
        ),
      ),
    );
    for (const refusal of refusals) {
      expect(refusal).toBeInstanceOf(Cloudflare.PermissionDeniedError);
      expect((refusal as InstanceType<typeof Cloudflare.APIError>).errors[0]).toMatchObject({ code: 10000 });
    }
    const writer = sdk(emulator, { apiToken: WRITER_A });
    expect((await writer.workflows.instances.get('order-1004', p)).status).toBe('waiting');
    expect((await writer.workflows.get('order-fulfillment', { account_id })).class_name).toBe(
      'OrderFulfillmentWorkflow',
    );
    for (const id of ['sdk-1', 'sdk-2']) {
      await expect(writer.workflows.instances.get(id, p)).rejects.toBeInstanceOf(Cloudflare.NotFoundError);
    }
  });

  it('confines a token to its accounts: another account is refused with 403, code 10000, and never created', async () => {
    const emulator = await startEmulator({ tokens: TOKENS });
    const call = client(emulator);
    for (const token of [READER_A, WRITER_A]) {
      const read = await call(token, OTHER, 'GET', '/order-fulfillment/instances/order-1004');
      expectRefused(read, 10000, 403);
      expect(read.body.errors[0]!.message).toBe(
        `Authentication error: the credential has no access to account "${OTHER}"`,
      );
      expectRefused(await call(token, OTHER, 'POST', '/flaky-import/instances', { instance_id: 'x' }), 10000, 403);
    }
    expect(emulator.engine.accounts()).toEqual([]);
    expectRefused(await call(WRITER_B, ACCOUNT, 'GET', ''), 10000, 403);
    expect(emulator.engine.accounts()).toEqual([]);

    const foreign = await sdk(emulator, { apiToken: WRITER_B })
      .workflows.instances.create('flaky-import', { account_id: ACCOUNT, instance_id: 'x' })
      .catch((e: unknown) => e);
    expect(foreign).toBeInstanceOf(Cloudflare.PermissionDeniedError);
    expect((foreign as InstanceType<typeof Cloudflare.APIError>).errors[0]).toMatchObject({ code: 10000 });
    expect(emulator.engine.accounts()).toEqual([]);
    expect((await call(WRITER_B, OTHER, 'GET', '')).status).toBe(200);
    expect(emulator.engine.accounts()).toEqual([OTHER]);
  });

  it('keeps two accounts apart: each has its own instance under the same workflow name and instance id', async () => {
    const emulator = await startEmulator({ tokens: TOKENS });
    const a = sdk(emulator, { apiToken: WRITER_A });
    const b = sdk(emulator, { apiToken: WRITER_B });
    const inA = { account_id: ACCOUNT, workflow_name: 'order-fulfillment' };
    const inB = { account_id: OTHER, workflow_name: 'order-fulfillment' };
    // Both accounts are seeded with the demo workflows, so both have an `order-1004` of their own.
    expect((await a.workflows.instances.get('order-1004', inA)).status).toBe('waiting');
    expect((await b.workflows.instances.get('order-1004', inB)).status).toBe('waiting');
    await a.workflows.instances.status.edit('order-1004', { ...inA, status: 'terminate' });
    expect((await a.workflows.instances.get('order-1004', inA)).status).toBe('terminated');
    expect((await b.workflows.instances.get('order-1004', inB)).status).toBe('waiting');

    await a.workflows.instances.create('order-fulfillment', {
      account_id: ACCOUNT,
      instance_id: 'twin',
      params: { customer: 'a@example.com' } as never,
    });
    await b.workflows.instances.create('order-fulfillment', {
      account_id: OTHER,
      instance_id: 'twin',
      params: { customer: 'b@example.com' } as never,
    });
    await emulator.clock.advance(0);
    expect((await a.workflows.instances.get('twin', inA)).params).toEqual({ customer: 'a@example.com' });
    expect((await b.workflows.instances.get('twin', inB)).params).toEqual({ customer: 'b@example.com' });
    await b.workflows.instances.status.edit('twin', { ...inB, status: 'terminate' });
    expect((await b.workflows.instances.get('twin', inB)).status).toBe('terminated');
    expect((await a.workflows.instances.get('twin', inA)).status).toBe('waiting');
    expect(emulator.engine.instance(ACCOUNT, 'order-fulfillment', 'twin')?.status).toBe('waiting');
  });

  it('checks tokens under rate limiting as well', async () => {
    const emulator = await startEmulator({ tokens: TOKENS, rateLimit: { limit: 100, windowS: 60 } });
    const call = client(emulator);
    expectRefused(await call('nobody-knows-me', ACCOUNT, 'GET', ''), 9106, 401);
    expectRefused(await call(READER_A, ACCOUNT, 'POST', '/flaky-import/instances', { instance_id: 'x' }), 10000, 403);
    expectRefused(await call(READER_A, OTHER, 'GET', ''), 10000, 403);
    const read = await call(READER_A, ACCOUNT, 'GET', '');
    expect(read.status).toBe(200);
    expect(read.text).not.toContain(READER_A);
    expect(emulator.engine.instance(ACCOUNT, 'flaky-import', 'x')).toBeUndefined();
  });
});

describe('emulator apiToken (EMULATOR_API_TOKEN)', () => {
  it('accepts that one token for every account, writes included, and refuses others with 401', async () => {
    const emulator = await startEmulator({ apiToken: 'the-only-token' });
    const call = client(emulator);
    for (const account of [ACCOUNT, OTHER]) {
      expect((await call('the-only-token', account, 'GET', '')).status).toBe(200);
      expect((await call('the-only-token', account, 'POST', '/flaky-import/instances', {})).status).toBe(200);
    }
    const legacy = { 'x-auth-email': 'a@example.com', 'x-auth-key': 'the-only-token' };
    expect((await call('', OTHER, 'PUT', '/nightly-report/instances/terminate', undefined, legacy)).status).toBe(200);
    expectRefused(await call('another-token', ACCOUNT, 'GET', ''), 9106, 401);
  });

  it('keeps that token unrestricted next to a token table', async () => {
    const emulator = await startEmulator({ apiToken: 'the-only-token', tokens: TOKENS });
    const call = client(emulator);
    expect((await call('the-only-token', OTHER, 'POST', '/flaky-import/instances', {})).status).toBe(200);
    expectRefused(await call(READER_A, ACCOUNT, 'POST', '/flaky-import/instances', {}), 10000, 403);
    expectRefused(await call('another-token', ACCOUNT, 'GET', ''), 9106, 401);
  });

  it('accepts any token for any account, writes included, when neither apiToken nor tokens is set', async () => {
    const emulator = await startEmulator();
    const call = client(emulator);
    expect((await call('anything', OTHER, 'POST', '/flaky-import/instances', {})).status).toBe(200);
    expect((await call('something-else', ACCOUNT, 'DELETE', '/flaky-import')).status).toBe(200);
  });
});
