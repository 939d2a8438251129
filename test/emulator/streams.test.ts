import { afterAll, describe, expect, it } from 'vitest';
import { createUpstream, type Upstream } from '../../src/upstream/client.js';
import { BadStreamWorkflow, BINARY, LONG_TEXT, streamCalls, StreamingWorkflow } from '../fixtures/workflows.js';
import { ACCOUNT, rest, sdk, startEmulator, TOKEN } from './support.js';

const account_id = ACCOUNT;
const upstreams: Upstream[] = [];
afterAll(() => Promise.all(upstreams.map((u) => u.close())));
type Details = {
  status: string;
  output: unknown;
  error: { name: string; message: string } | null;
  steps: Record<string, unknown>[];
};

async function streamingEmulator(options: Parameters<typeof startEmulator>[0] = {}) {
  const emulator = await startEmulator({
    seedDemoData: false,
    workflows: { StreamingWorkflow, BadStreamWorkflow },
    ...options,
  });
  await rest(emulator, 'PUT', '/streams', { body: { class_name: 'StreamingWorkflow', script_name: 's' } });
  await rest(emulator, 'PUT', '/bad-streams', { body: { class_name: 'BadStreamWorkflow', script_name: 's' } });
  return emulator;
}

const stepUrl = (emulator: { url: string }, workflow: string, id: string, query: string) =>
  `${emulator.url}/accounts/${ACCOUNT}/workflows/${workflow}/instances/${id}/step?${query}`;

describe('ReadableStream step outputs', () => {
  it('logs previews, hands the bytes back on replay and serves them raw from the step endpoint', async () => {
    streamCalls.clear();
    const emulator = await streamingEmulator();
    await rest(emulator, 'POST', '/streams/instances', { body: { instance_id: 'st-1' } });
    await emulator.clock.advance(0);
    let details = (await rest(emulator, 'GET', '/streams/instances/st-1')).body.result as Details;
    expect(details.status).toBe('waiting');
    const outputs = Object.fromEntries(details.steps.filter((s) => s.type === 'step').map((s) => [s.name, s.output]));
    expect(outputs).toEqual({
      'text-1': LONG_TEXT.slice(0, 1024) + '[truncated output]',
      'binary-1': `[ReadableStream (binary): ${BINARY.length} bytes]`,
      'short-1': 'hi there',
      'secret-1': '[REDACTED]',
    });

    const raw = await fetch(stepUrl(emulator, 'streams', 'st-1', 'name=binary-1&type=step'), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/octet-stream');
    expect([...new Uint8Array(await raw.arrayBuffer())]).toEqual([...BINARY]);
    const firstAttempt = await fetch(stepUrl(emulator, 'streams', 'st-1', 'name=text-1&type=step&attempt=1'), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await firstAttempt.text()).toBe(LONG_TEXT);
    // A sensitive stream is not served: the answer is the redacted JSON envelope.
    const secret = await rest(emulator, 'GET', '/streams/instances/st-1/step?name=secret-1&type=step');
    expect(secret.body.result).toEqual({ status: 'complete', error: null, output: '[REDACTED]' });

    // Pause and resume re-run run(): every stream comes back from the log, the callbacks do not run again.
    await rest(emulator, 'PATCH', '/streams/instances/st-1/status', { body: { status: 'pause' } });
    await rest(emulator, 'PATCH', '/streams/instances/st-1/status', { body: { status: 'resume' } });
    await emulator.clock.advance(60_000);
    details = (await rest(emulator, 'GET', '/streams/instances/st-1')).body.result as Details;
    expect(details.status).toBe('complete');
    expect(details.output).toEqual({ text: LONG_TEXT.length, binary: [...BINARY], short: 'hi there', secret: 6 });
    expect(Object.fromEntries(streamCalls)).toEqual({ text: 1, binary: 1, short: 1, secret: 1 });
  });

  it('lets the official SDK reach the bytes through asResponse(), while .step() resolves undefined', async () => {
    const emulator = await streamingEmulator();
    const cf = sdk(emulator);
    await cf.workflows.instances.create('streams', { account_id, instance_id: 'st-sdk' });
    await emulator.clock.advance(0);
    const params = { account_id, workflow_name: 'streams', name: 'short-1', type: 'step' as const };
    expect(await cf.workflows.instances.step('st-sdk', params)).toBeUndefined();
    const response = await cf.workflows.instances.step('st-sdk', params).asResponse();
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(await response.text()).toBe('hi there');
    // JSON outputs of the same instance still come in the envelope.
    const json = await cf.workflows.instances.step('st-sdk', { ...params, name: 'secret-1' });
    expect(json).toMatchObject({ status: 'complete', output: '[REDACTED]' });
  });

  it('reaches the gateway client as base64 bytes, as src/upstream expects', async () => {
    const emulator = await streamingEmulator();
    const upstream = createUpstream({
      baseUrl: emulator.url,
      accountId: ACCOUNT,
      apiToken: TOKEN,
      connectTimeoutMs: 2000,
      headersTimeoutMs: 2000,
      bodyTimeoutMs: 2000,
      maxRetries: 0,
      rateLimit: 1000,
      rateWindowS: 60,
      clientBudgetShare: 1,
      connections: 0,
      pipelining: 1,
    });
    upstreams.push(upstream);
    await rest(emulator, 'POST', '/streams/instances', { body: { instance_id: 'st-client' } });
    await emulator.clock.advance(0);
    const binary = await upstream.default.getInstanceStep('streams', 'st-client', { name: 'binary-1', type: 'step' });
    expect(binary).toEqual({
      status: 'complete',
      error: null,
      output: Buffer.from(BINARY).toString('base64'),
      eventType: null,
      outputEncoding: 'base64',
    });
    const secret = await upstream.default.getInstanceStep('streams', 'st-client', { name: 'secret-1', type: 'step' });
    expect(secret).toMatchObject({ status: 'complete', output: '[REDACTED]' });
    expect(secret.outputEncoding).toBeUndefined();
  });

  it('fails the step without retries for chunks that are not bytes, over the storage limit, or JSON over 1 MiB', async () => {
    const emulator = await streamingEmulator({ limits: { instanceStorageBytes: 32 } });
    for (const mode of ['strings', 'big', 'huge-json'] as const) {
      await rest(emulator, 'POST', '/bad-streams/instances', { body: { instance_id: mode, params: { mode } } });
    }
    await emulator.clock.advance(0);
    const errors: Record<string, unknown> = {};
    for (const mode of ['strings', 'big', 'huge-json']) {
      const details = (await rest(emulator, 'GET', `/bad-streams/instances/${mode}`)).body.result as Details;
      expect(details.status).toBe('errored');
      expect(details.steps[0]!.attempts).toHaveLength(1);
      errors[mode] = details.error;
    }
    expect(errors).toEqual({
      strings: {
        name: 'UnsupportedStreamChunkError',
        message: expect.stringContaining('Only ArrayBuffer and TypedArray chunks are supported'),
      },
      big: { name: 'StreamOutputStorageLimitError', message: 'The instance has exceeded the 32-byte storage limit' },
      'huge-json': {
        name: 'NonRetryableError',
        message: expect.stringMatching(/^The output of step "huge-1" is larger than 1 MiB \(1048579 bytes of JSON\)/),
      },
    });
  });
});
