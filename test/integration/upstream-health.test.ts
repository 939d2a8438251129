import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfig } from '../../src/config.js';
import { createEmulator, type Emulator } from '../../src/emulator/server.js';
import {
  createUpstreamHealth,
  UPSTREAM_ANSWER_MAX_AGE_MS,
  type UpstreamHealth,
} from '../../src/health/upstream-check.js';
import type { CheckResult } from '../../src/health/readiness.js';
import type { Logger } from '../../src/logger.js';
import { createUpstream, type Upstream } from '../../src/upstream/client.js';
import { waitFor } from '../helpers/wait.js';

// The `upstream` readiness check (src/health/upstream-check.ts) with the real client against the emulator, on a
// clock the test moves: which answers count, how long one keeps the server ready, and what an idle server spends.

const ACCOUNT = 'f'.repeat(32);
const TOKEN = 'upstream-health-token-0123456789abcdef';
const WRONG_TOKEN = 'upstream-health-wrong-token-0123456789';
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

let emulator: Emulator;
beforeAll(async () => {
  emulator = await createEmulator({ clock: 'manual', seedDemoData: false, apiToken: TOKEN });
});
afterAll(() => emulator.stop());

function setUp(serverToken: string): { health: UpstreamHealth; upstream: Upstream; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  const config = createConfig({
    upstream: { baseUrl: emulator.url, accountId: ACCOUNT, apiToken: serverToken, maxRetries: 0 },
  });
  const health = createUpstreamHealth({ logger: silent, upstream: config.upstream, now: () => clock.now });
  const upstream = createUpstream(config.upstream, { observer: health.observer });
  return { health, upstream, clock };
}

/** The upstream check answers from what it knows, without waiting (src/health/readiness.ts asks that of checks). */
const check = (health: UpstreamHealth) => health.check.check() as CheckResult;

describe('the upstream readiness check', () => {
  it('keeps an idle server ready with one refresh per half window, however often it is probed', async () => {
    const { health, upstream, clock } = setUp(TOKEN);
    emulator.requests.reset();
    expect(await health.start(upstream.default)).toEqual({ status: 'passed' });
    expect(emulator.requests.count()).toBe(1);

    clock.now += UPSTREAM_ANSWER_MAX_AGE_MS / 2 - 1;
    for (let i = 0; i < 10; i++) expect(check(health)).toMatchObject({ ok: true });
    expect(emulator.requests.count()).toBe(1);

    clock.now += 2;
    for (let i = 0; i < 10; i++) expect(check(health)).toMatchObject({ ok: true });
    await waitFor(() => emulator.requests.count() === 2, { message: 'one refresh request' });
    await waitFor(() => (check(health) as { detail?: string }).detail === 'the last successful answer was 0 s ago', {
      message: "the refresh's answer to be noted",
    });
    expect(emulator.requests.count()).toBe(2);

    // Nothing answered for longer than the window (say the refresh was lost): not ready, and one more refresh.
    clock.now += UPSTREAM_ANSWER_MAX_AGE_MS + 1;
    expect(check(health)).toEqual({
      ok: false,
      reason: expect.stringMatching(/^no successful upstream answer for 60 s/),
    });
    await waitFor(() => emulator.requests.count() === 3, { message: 'the second refresh request' });
    await waitFor(() => check(health).ok, { message: 'the refresh to make the server ready again' });
    expect(emulator.requests.count()).toBe(3);
    health.stop();
    await upstream.close();
  });

  it('names the last failure once answers stop, in its own words', async () => {
    const { health, upstream, clock } = setUp(TOKEN);
    await health.start(upstream.default);
    emulator.faults.set({ errorRate: 1 });
    try {
      clock.now += UPSTREAM_ANSWER_MAX_AGE_MS + 1;
      check(health);
      await waitFor(() => (check(health) as { reason?: string }).reason?.includes('the last failure') === true, {
        message: 'the failed refresh to show in the reason',
      });
      expect(check(health)).toEqual({
        ok: false,
        reason: 'no successful upstream answer for 60 s; the last failure: UNAVAILABLE (HTTP 500)',
      });
    } finally {
      emulator.faults.clear();
      health.stop();
      await upstream.close();
    }
  });

  it("fails at once when the server's token is refused, and ignores a client's refused token", async () => {
    const { health, upstream } = setUp(WRONG_TOKEN);
    expect(await health.start(upstream.default)).toMatchObject({ status: 'failed' });
    expect(check(health)).toEqual({
      ok: false,
      reason: expect.stringContaining("refused the server's token (HTTP 401)"),
    });

    // Any successful call proves the upstream works: here one with a good client credential.
    await upstream.forCredential(ACCOUNT, TOKEN).listWorkflows({ perPage: 1 });
    expect(check(health)).toMatchObject({ ok: true });
    // A client's bad token is the client's business.
    await expect(upstream.forCredential(ACCOUNT, 'a-client-bad-token-0123456789').listWorkflows()).rejects.toThrow();
    expect(check(health)).toMatchObject({ ok: true });
    // The server's own token refused again: not ready, without waiting for the window to pass.
    await expect(upstream.default.listWorkflows()).rejects.toThrow();
    expect(check(health)).toMatchObject({ ok: false });
    health.stop();
    await upstream.close();
  });
});
