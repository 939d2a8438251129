import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createCloudflareTokenAuthenticator } from '../../src/auth/cloudflare-token.js';
import type { Logger } from '../../src/logger.js';
import { startStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

// Readiness (issue 13, "Health"): /readyz is 200 only while the server accepts work and the upstream works with
// the server's credential (src/health/). These tests run the gateway in remote mode against the emulator, so the
// start-up check is one real request through the real client.

const ACCOUNT = 'c'.repeat(32);
const TOKEN = 'readiness-right-token-0123456789abcdef';
const WRONG_TOKEN = 'readiness-wrong-token-fedcba9876543210';

interface Readiness {
  readonly status: number;
  readonly text: string;
  readonly body: { status: string; checks: Record<string, { ok: boolean; reason?: string; detail?: string }> };
}

async function readyz(url: string): Promise<Readiness> {
  const response = await fetch(new URL('/readyz', url));
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as Readiness['body'] };
}

/** Polls /readyz until it answers `status`; rejects with the last answer at the deadline. */
async function readyzUntil(url: string, status: number, timeoutMs = 10_000): Promise<Readiness> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await readyz(url);
    if (answer.status === status) return answer;
    if (Date.now() > deadline) throw new Error(`/readyz still answers ${answer.status}: ${answer.text}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function recordingLogger(lines: string[]): Logger {
  const write = (...args: unknown[]) => lines.push(args.map(String).join(' '));
  return { debug: write, info: write, warn: write, error: write };
}

const remote = (apiToken: string) => ({ mode: 'remote' as const, upstream: { apiToken, accountId: ACCOUNT } });

describe('/readyz', () => {
  it('is ready against the emulator once the start-up check passed, after exactly one upstream request', async () => {
    const stack = await startStack({ listen: true, emulator: { apiToken: TOKEN }, config: remote(TOKEN) });
    expect(await stack.app.startupCheck).toEqual({ status: 'passed' });
    const answer = await readyz(stack.url!);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      status: 'ready',
      checks: { accepting: { ok: true }, upstream: { ok: true, detail: expect.stringMatching(/ s ago$/) } },
    });
    expect(stack.upstreamCalls()).toBe(1);
    expect(stack.upstreamCalls({ route: 'GET /accounts/{account_id}/workflows' })).toBe(1);
    await stack.stop();
  });

  it('answers 503 naming the upstream while it cannot be reached at start, then 200 once it answers', async () => {
    let reachable = false;
    const lines: string[] = [];
    const stack = await startStack({
      listen: true,
      config: { ...remote(TOKEN), upstream: { ...remote(TOKEN).upstream, maxRetries: 0 } },
      interceptUpstream: () => (reachable ? 'forward' : 'drop'),
      logger: recordingLogger(lines),
    });
    await waitFor(() => lines.some((l) => l.includes('start-up check: upstream unreachable')), {
      message: 'the start-up check to report the unreachable upstream',
    });
    const down = await readyz(stack.url!);
    expect(down.status).toBe(503);
    expect(down.body.status).toBe('not-ready');
    expect(down.body.checks.accepting).toEqual({ ok: true });
    expect(down.body.checks.upstream).toEqual({
      ok: false,
      reason: expect.stringContaining('the start-up check could not reach the upstream'),
    });

    reachable = true;
    const up = await readyzUntil(stack.url!, 200);
    expect(up.body.status).toBe('ready');
    expect(await stack.app.startupCheck).toEqual({ status: 'passed' });
    await stack.stop();
  });

  it('answers 503 with the refused token as the reason, and never shows the token', async () => {
    const stack = await startStack({ listen: true, emulator: { apiToken: TOKEN }, config: remote(WRONG_TOKEN) });
    const outcome = await stack.app.startupCheck;
    expect(outcome).toMatchObject({ status: 'failed', problem: expect.stringContaining('invalid token') });
    expect(JSON.stringify(outcome)).toContain('CLOUDFLARE_API_TOKEN');
    expect(JSON.stringify(outcome)).not.toContain(WRONG_TOKEN);
    const answer = await readyz(stack.url!);
    expect(answer.status).toBe(503);
    expect(answer.body.checks.upstream).toEqual({
      ok: false,
      reason: expect.stringContaining("the upstream refused the server's token (HTTP 401)"),
    });
    expect(answer.text).not.toContain(WRONG_TOKEN);
    expect(answer.text).not.toContain(TOKEN);
    await stack.stop();
  });

  it('answers 503 with "shutting down" to a request that arrives while the server stops', async () => {
    const stack = await startStack({ listen: true, emulator: { apiToken: TOKEN }, config: remote(TOKEN) });
    await readyzUntil(stack.url!, 200);
    let serverSide: Socket | undefined;
    stack.app.server.once('connection', (socket: Socket) => (serverSide = socket));
    const { port } = new URL(stack.url!);
    const client = connect(Number(port), '127.0.0.1');
    let received = '';
    client.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    // The request has begun (its first header lines arrived), so the server keeps the connection through stop().
    const head = `GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`;
    client.write(head);
    await waitFor(() => (serverSide?.bytesRead ?? 0) >= head.length, {
      message: 'the server to read the request head',
    });
    const stopped = stack.app.stop();
    // `Connection: close`: the answer ends the connection, rather than the keep-alive timeout.
    client.write('Connection: close\r\n\r\n');
    await closed;
    await stopped;
    const [statusLine = ''] = received.split('\r\n');
    expect(statusLine).toBe('HTTP/1.1 503 Service Unavailable');
    const body = JSON.parse(received.slice(received.indexOf('{'), received.lastIndexOf('}') + 1)) as Readiness['body'];
    expect(body).toMatchObject({
      status: 'shutting-down',
      checks: { accepting: { ok: false, reason: 'shutting down' } },
    });
    await stack.stop();
  });

  it("with AUTH_MODE=cloudflare-token, a client's refused token does not make the server not ready", async () => {
    const unknown = 'attacker-unknown-cloudflare-token-000000000';
    const stack = await startStack({
      listen: true,
      emulator: { tokens: { [TOKEN]: { accounts: [ACCOUNT], write: false } } },
      authenticator: createCloudflareTokenAuthenticator(ACCOUNT),
      config: { mode: 'remote', auth: { mode: 'cloudflare-token' }, upstream: { apiToken: '', accountId: ACCOUNT } },
    });
    expect(await stack.app.startupCheck).toMatchObject({ status: 'skipped' });
    for (let i = 0; i < 3; i++) {
      const result = await stack.graphql(
        '{ workflows(first: 1) { nodes { name } } }',
        {},
        {
          authorization: `Bearer ${unknown}`,
        },
      );
      expect(result.errors?.[0]?.extensions?.code).toBeDefined();
    }
    expect(stack.upstreamCalls()).toBeGreaterThan(0);
    const answer = await readyz(stack.url!);
    expect(answer.status).toBe(200);
    // The server has no token of its own to check: readiness does not wait for an upstream answer.
    expect(answer.body).toEqual({ status: 'ready', checks: { accepting: { ok: true } } });
    await stack.stop();
  });
});
