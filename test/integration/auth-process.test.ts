import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../src/auth/api-keys.js';
import { spawnEntry } from '../helpers/process.js';

/** `node --import tsx`: the tsx command would die of SIGHUP instead of passing it on (test/helpers/process.ts). */
const SIGNALLABLE = { importTsx: true };

/** Access control as the real server process applies it (`npm start`, src/main.ts): start-up checks and SIGHUP. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auth-process-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function statusWith(url: string, key: string): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: '{ workflow(name: "order-fulfillment") { name } }' }),
  });
  await response.text();
  return response.status;
}

describe('the server process', () => {
  it('refuses to start on a non-loopback HOST without AUTH_MODE, naming AUTH_MODE and every mode', async () => {
    // ALLOWED_HOSTS is given, so AUTH_MODE is the only thing missing.
    const server = spawnEntry('src/main.ts', { HOST: '0.0.0.0', PORT: '0', ALLOWED_HOSTS: 'gateway.internal' });
    expect(await server.exited()).toEqual({ code: 1, signal: null });
    const stderr = server.stderr();
    expect(stderr).toContain('AUTH_MODE is required when HOST (0.0.0.0) is not a loopback address');
    for (const mode of ['api-key', 'jwt', 'cloudflare-token', 'none']) expect(stderr).toContain(mode);
    expect(stderr).not.toContain('ALLOWED_HOSTS');
    expect(server.stdout()).toBe('');
  });

  it('starts on the same HOST once AUTH_MODE is set (the refusal above is about AUTH_MODE alone)', async () => {
    const { entry } = createApiKey({ id: 'any', scopes: ['workflows:read'] });
    const file = join(dir, 'start-keys.json');
    await writeFile(file, JSON.stringify([entry]));
    const server = spawnEntry('src/main.ts', {
      HOST: '0.0.0.0',
      PORT: '0',
      ALLOWED_HOSTS: 'gateway.internal',
      AUTH_MODE: 'api-key',
      API_KEYS_FILE: file,
    });
    await server.waitForLine(/Workflows GraphQL .* at http:\/\/\S+\/graphql/);
    expect(server.stdout()).toContain('AUTH_MODE=api-key');
    server.kill('SIGTERM');
    expect(await server.exited()).toEqual({ code: 0, signal: null });
  });

  it('rotates API keys on SIGHUP: the new key works once the file is re-read, then the old one gets 401', async () => {
    const a = createApiKey({ id: 'key-a', scopes: ['workflows:read'] });
    const b = createApiKey({ id: 'key-b', scopes: ['workflows:read'] });
    const file = join(dir, 'rotating-keys.json');
    await writeFile(file, JSON.stringify([a.entry]));
    const server = spawnEntry('src/main.ts', { PORT: '0', AUTH_MODE: 'api-key', API_KEYS_FILE: file }, SIGNALLABLE);
    const [, url] = await server.waitForLine(/Workflows GraphQL .* at (http:\/\/\S+\/graphql)/);

    expect(await statusWith(url!, a.key)).toBe(200);
    expect(await statusWith(url!, b.key)).toBe(401);

    await writeFile(file, JSON.stringify([b.entry]));
    server.kill('SIGHUP');
    // Polled with a deadline: the reload is asynchronous, and the signal's arrival is not observable otherwise.
    const deadline = Date.now() + 10_000;
    while ((await statusWith(url!, b.key)) !== 200) {
      if (Date.now() > deadline) throw new Error(`key B still refused 10 s after SIGHUP; stderr: ${server.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await statusWith(url!, a.key)).toBe(401);
    await server.waitForLine(/SIGHUP: api-key credentials reloaded/, { stream: 'stderr' });

    server.kill('SIGTERM');
    expect(await server.exited()).toEqual({ code: 0, signal: null });
    for (const key of [a.key, b.key]) {
      expect(server.stdout()).not.toContain(key);
      expect(server.stderr()).not.toContain(key);
    }
  });

  it('keeps the keys in force when SIGHUP finds a broken file, and says so without quoting it', async () => {
    const a = createApiKey({ id: 'key-a', scopes: ['workflows:read'] });
    const file = join(dir, 'broken-keys.json');
    await writeFile(file, JSON.stringify([a.entry]));
    const server = spawnEntry('src/main.ts', { PORT: '0', AUTH_MODE: 'api-key', API_KEYS_FILE: file }, SIGNALLABLE);
    const [, url] = await server.waitForLine(/Workflows GraphQL .* at (http:\/\/\S+\/graphql)/);

    // Half a file, as an editor that writes in place might leave it, with the key itself pasted in.
    await writeFile(file, `[{"id": "key-a", "sha256": "${a.key}"`);
    server.kill('SIGHUP');
    await server.waitForLine(/SIGHUP: reload failed, the previous credentials stay in use/, { stream: 'stderr' });
    expect(await statusWith(url!, a.key)).toBe(200);
    expect(server.stderr()).not.toContain(a.key);

    server.kill('SIGTERM');
    expect(await server.exited()).toEqual({ code: 0, signal: null });
  });
});
