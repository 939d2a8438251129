import { spawn } from 'node:child_process';
import { once } from 'node:events';
import Cloudflare from 'cloudflare';
import { describe, expect, it } from 'vitest';
import { ACCOUNT } from './support.js';

describe('npm run emulator', () => {
  it('serves the SDK from a separate process, prints its URL and exits cleanly on SIGTERM', async () => {
    const child = spawn('node_modules/.bin/tsx', ['src/emulator/main.ts'], {
      env: { ...process.env, EMULATOR_PORT: '0', EMULATOR_API_TOKEN: 'proc-token', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no URL within 15 s; stderr: ${stderr}`)), 15_000);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const line = out.split('\n').find((l) => l.trim() !== '' && out.includes('\n'));
          if (line) {
            clearTimeout(timer);
            resolve(line.trim());
          }
        });
        child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${stderr}`)));
      });
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
});
