import Cloudflare from 'cloudflare';
import { describe, expect, it } from 'vitest';
import { spawnEntry } from '../helpers/process.js';
import { ACCOUNT } from './support.js';

/** `npm run emulator` (the tsx command) with `env`; `url` resolves with the URL it prints, or rejects if it exits first. */
function spawnEmulator(env: Record<string, string>) {
  const emulator = spawnEntry('src/emulator/main.ts', { EMULATOR_PORT: '0', HOST: '127.0.0.1', ...env });
  const url = emulator.waitForLine(/^(\S+)\n/m).then((match) => match[1] as string);
  return { emulator, url };
}

describe('npm run emulator', () => {
  it('serves the SDK from a separate process, prints its URL and exits cleanly on SIGTERM', async () => {
    const { emulator, url: started } = spawnEmulator({ EMULATOR_API_TOKEN: 'proc-token' });
    try {
      const url = await started;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/client\/v4$/);
      const cf = new Cloudflare({ apiToken: 'proc-token', baseURL: url, maxRetries: 0 });
      const page = await cf.workflows.list({ account_id: ACCOUNT });
      expect(page.result.map((w) => w.name).sort()).toEqual([
        'booking-saga',
        'flaky-import',
        'nightly-report',
        'order-fulfillment',
      ]);
      const created = await cf.workflows.instances.create('flaky-import', {
        account_id: ACCOUNT,
        instance_id: 'from-test',
      });
      expect(created.status).toBe('queued');
      await expect(
        new Cloudflare({ apiToken: 'other', baseURL: url, maxRetries: 0 }).workflows.list({ account_id: ACCOUNT }),
      ).rejects.toBeInstanceOf(Cloudflare.AuthenticationError);
      emulator.kill('SIGTERM');
      expect((await emulator.exited()).code).toBe(0);
    } finally {
      emulator.kill('SIGKILL');
    }
  });

  it('confines the tokens of EMULATOR_TOKENS to their accounts and keeps read-only ones from writing', async () => {
    const tokens = { 'proc-reader': { accounts: [ACCOUNT], write: false } };
    const { emulator, url: started } = spawnEmulator({ EMULATOR_TOKENS: JSON.stringify(tokens) });
    try {
      const reader = new Cloudflare({ apiToken: 'proc-reader', baseURL: await started, maxRetries: 0 });
      expect((await reader.workflows.list({ account_id: ACCOUNT })).result).toHaveLength(4);
      await expect(
        reader.workflows.instances.create('flaky-import', { account_id: ACCOUNT, instance_id: 'x' }),
      ).rejects.toBeInstanceOf(Cloudflare.PermissionDeniedError);
      await expect(reader.workflows.list({ account_id: 'f'.repeat(32) })).rejects.toBeInstanceOf(
        Cloudflare.PermissionDeniedError,
      );
    } finally {
      // The whole process group: SIGKILL to the tsx command alone would leave its node child serving.
      emulator.kill('SIGKILL');
    }
  });

  it('refuses to start with a bad EMULATOR_TOKENS, naming the variable and not the token', async () => {
    const { emulator, url } = spawnEmulator({
      EMULATOR_TOKENS: JSON.stringify({ 'leaky-secret': { accounts: [], write: 'yes' } }),
    });
    await expect(url).rejects.toThrow(/process exited before printing/);
    expect((await emulator.exited()).code).toBe(1);
    expect(emulator.stderr()).toContain('EMULATOR_TOKENS entry #1: accounts must be a non-empty array of account ids');
    expect(emulator.stderr()).not.toContain('leaky-secret');
  });
});
