import { afterAll, describe, expect, it } from 'vitest';
import { createEmulator, type Emulator } from '../../src/emulator/server.js';
import { refusedPort } from '../helpers/ports.js';
import { spawnEntry } from '../helpers/process.js';

// The real server (`npm start`) against the emulator: the start-up check reports a refused credential with the
// variable to fix and exits 1; an unreachable upstream keeps it running, not ready (src/health/upstream-check.ts).

const ACCOUNT = 'd'.repeat(32);
const OTHER_ACCOUNT = 'e'.repeat(32);
const TOKEN = 'startup-right-token-0123456789abcdef';
const WRONG_TOKEN = 'startup-wrong-token-fedcba9876543210';

const emulators: Emulator[] = [];
afterAll(async () => {
  await Promise.all(emulators.map((e) => e.stop()));
});

async function emulator(options: Parameters<typeof createEmulator>[0]): Promise<Emulator> {
  const started = await createEmulator({ clock: 'manual', seedDemoData: false, ...options });
  emulators.push(started);
  return started;
}

const remoteEnv = (baseUrl: string, token: string, account = ACCOUNT) => ({
  PORT: '0',
  NODE_ENV: 'production',
  CLOUDFLARE_API_TOKEN: token,
  CLOUDFLARE_ACCOUNT_ID: account,
  CLOUDFLARE_BASE_URL: baseUrl,
});

describe('the start-up check of npm start, in remote mode', () => {
  it('exits 1 on a token the upstream refuses, naming CLOUDFLARE_API_TOKEN and never the token', async () => {
    const upstream = await emulator({ apiToken: TOKEN });
    const server = spawnEntry('src/main.ts', remoteEnv(upstream.url, WRONG_TOKEN));
    const exit = await server.exited();
    expect(exit.code).toBe(1);
    expect(server.stderr()).toMatch(/Start-up check failed: invalid token: the upstream refused CLOUDFLARE_API_TOKEN/);
    expect(server.stderr()).toContain('Set CLOUDFLARE_API_TOKEN to a valid Cloudflare API token');
    expect(server.stdout() + server.stderr()).not.toContain(WRONG_TOKEN);
    // Production logs JSON: the failure is one more JSON line for a log pipeline, at level error, not plain text.
    const lines = server
      .stderr()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { level?: string; msg?: string; problem?: string });
    const failure = lines.find((line) => line.msg?.startsWith('Start-up check failed:'));
    expect(failure).toMatchObject({ level: 'error', problem: expect.stringContaining('invalid token') });
    // One request through the normal client: a 401 is not retried.
    expect(upstream.requests.count()).toBe(1);
  });

  it('exits 1 when the token cannot reach the account, naming CLOUDFLARE_ACCOUNT_ID', async () => {
    const upstream = await emulator({ tokens: { [TOKEN]: { accounts: [OTHER_ACCOUNT], write: false } } });
    const server = spawnEntry('src/main.ts', remoteEnv(upstream.url, TOKEN));
    expect((await server.exited()).code).toBe(1);
    expect(server.stderr()).toContain(`Start-up check failed: the token cannot read account ${ACCOUNT}`);
    expect(server.stderr()).toContain('Check CLOUDFLARE_ACCOUNT_ID');
    expect(server.stdout() + server.stderr()).not.toContain(TOKEN);
  });

  it('keeps running, not ready, while the upstream cannot be reached, naming CLOUDFLARE_BASE_URL', async () => {
    // A loopback port nobody listens on: connections are refused.
    const port = await refusedPort();

    const server = spawnEntry('src/main.ts', remoteEnv(`http://127.0.0.1:${port}/client/v4`, TOKEN));
    const [, url] = await server.waitForLine(/\(remote mode\) at (http:\/\/\S+\/graphql)/);
    await server.waitForLine(/start-up check: upstream unreachable at CLOUDFLARE_BASE_URL .*; retrying in \d+ s/, {
      stream: 'stderr',
    });
    const answer = await fetch(new URL('/readyz', url));
    expect(answer.status).toBe(503);
    const body = (await answer.json()) as { checks: { upstream: { ok: boolean; reason: string } } };
    expect(body.checks.upstream).toEqual({ ok: false, reason: expect.stringContaining('ECONNREFUSED') });
    expect((await fetch(new URL('/healthz', url))).status).toBe(200);
    server.kill('SIGTERM');
    expect(await server.exited()).toEqual({ code: 0, signal: null });
    expect(server.stdout() + server.stderr()).not.toContain(TOKEN);
  });
});

describe('never demo data by accident', () => {
  it('refuses NODE_ENV=production without a token, naming what is missing', async () => {
    const server = spawnEntry('src/main.ts', { PORT: '0', NODE_ENV: 'production' });
    expect((await server.exited()).code).toBe(1);
    expect(server.stderr()).toContain('NODE_ENV=production and CLOUDFLARE_API_TOKEN is not set');
    expect(server.stderr()).toContain('LOCAL_MODE=true');
    expect(server.stdout()).toBe('');
  });

  it('serves the embedded emulator in production when LOCAL_MODE=true asks for it', async () => {
    const server = spawnEntry('src/main.ts', { PORT: '0', NODE_ENV: 'production', LOCAL_MODE: 'true' });
    const [, url] = await server.waitForLine(/\(local mode\) at (http:\/\/\S+\/graphql)/);
    expect((await fetch(new URL('/readyz', url))).status).toBe(200);
    server.kill('SIGTERM');
    expect((await server.exited()).code).toBe(0);
  });
});
