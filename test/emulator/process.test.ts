import { spawn } from 'node:child_process';
import { once } from 'node:events';
import Cloudflare from 'cloudflare';
import { describe, expect, it } from 'vitest';
import { ACCOUNT } from './support.js';

/** `npm run emulator` with `env`; `url` resolves with the line it prints, or rejects if it exits first. */
function spawnEmulator(env: Record<string, string>) {
  const child = spawn('node_modules/.bin/tsx', ['src/emulator/main.ts'], {
    env: { ...process.env, EMULATOR_PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stderr: '' };
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const url = new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no URL within 15 s; stderr: ${output.stderr}`)), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.trim() !== '' && out.includes('\n'));
      if (line) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited early with ${code}: ${output.stderr}`));
    });
  });
  return { child, url, output };
}

describe('npm run emulator', () => {
  it('serves the SDK from a separate process, prints its URL and exits cleanly on SIGTERM', async () => {
    const { child, url: started } = spawnEmulator({ EMULATOR_API_TOKEN: 'proc-token' });
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
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('confines the tokens of EMULATOR_TOKENS to their accounts and keeps read-only ones from writing', async () => {
    const tokens = { 'proc-reader': { accounts: [ACCOUNT], write: false } };
    const { child, url: started } = spawnEmulator({ EMULATOR_TOKENS: JSON.stringify(tokens) });
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
      child.kill('SIGKILL');
    }
  });

  it('refuses to start with a bad EMULATOR_TOKENS, naming the variable and not the token', async () => {
    const { child, url, output } = spawnEmulator({
      EMULATOR_TOKENS: JSON.stringify({ 'leaky-secret': { accounts: [], write: 'yes' } }),
    });
    await expect(url).rejects.toThrow(/exited early with 1/);
    expect(child.exitCode).toBe(1);
    expect(output.stderr).toContain('EMULATOR_TOKENS entry #1: accounts must be a non-empty array of account ids');
    expect(output.stderr).not.toContain('leaky-secret');
  });
});
