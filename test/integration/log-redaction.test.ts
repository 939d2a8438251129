import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApiKey } from '../../src/auth/api-keys.js';
import { createEmulator, type Emulator } from '../../src/emulator/server.js';
import { spawnEntry, type SpawnedProcess } from '../helpers/process.js';

/**
 * The whole server as `npm start` runs it (src/main.ts in its own process) at LOG_LEVEL=debug, in each mode where
 * clients bring a credential. Clients send keys, JWTs and tokens in every place a client can put one (the
 * Authorization header, graphql-ws' connection_init, even x-request-id, whose characters a key or JWT fits); every
 * byte the process writes is then searched for each of them and for the server's own secrets.
 */

const ACCOUNT = '0123456789abcdef0123456789abcdef';
const SERVER_TOKEN = `server-token-${randomBytes(16).toString('hex')}`;
const CLIENT_TOKEN = `client-token-${randomBytes(16).toString('hex')}`;
const BAD_CLIENT_TOKEN = `bad-client-token-${randomBytes(16).toString('hex')}`;
const JWT_SECRET = `jwt-secret-${randomBytes(24).toString('hex')}`;
const OTHER_SECRET = `other-secret-${randomBytes(24).toString('hex')}`;
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'workflows-graphql';

const QUERY = '{ workflows(first: 1) { totalCount } }';
const dirs: string[] = [];
const emulators: Emulator[] = [];
afterAll(async () => {
  await Promise.all(emulators.map((e) => e.stop()));
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function post(url: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: QUERY }),
  });
  await response.text();
  return response.status;
}

/** A graphql-ws conversation authenticated by `authorization` in connection_init: one query, then close. */
async function overWebSocket(url: string, authorization: string, extra: Record<string, string> = {}): Promise<string> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws', {
    headers: { 'x-request-id': extra['x-request-id'] ?? 'ws-redaction' },
  });
  socket.on('error', () => undefined);
  const received: string[] = [];
  socket.on('message', (data: Buffer) => received.push(data.toString('utf8')));
  await once(socket, 'open');
  const closed = once(socket, 'close');
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization, ...extra } }));
  const deadline = Date.now() + 10_000;
  while (!received.some((m) => m.includes('connection_ack')) && socket.readyState === WebSocket.OPEN) {
    if (Date.now() > deadline) throw new Error(`no connection_ack; got ${received.join(' ')}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: QUERY } }));
    while (!received.some((m) => m.includes('"complete"'))) {
      if (Date.now() > deadline) throw new Error(`no complete; got ${received.join(' ')}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    socket.close(1000);
  }
  const [code] = (await closed) as [number];
  return received.some((m) => m.includes('"next"')) ? 'answered' : `closed ${code}`;
}

/** Starts src/main.ts with `env` at LOG_LEVEL=debug and resolves with its GraphQL URL. */
async function start(env: Record<string, string>): Promise<{ server: SpawnedProcess; url: string }> {
  const server = spawnEntry('src/main.ts', { PORT: '0', LOG_LEVEL: 'debug', ...env }, { importTsx: true });
  const [, url] = await server.waitForLine(/ at (http:\/\/\S+\/graphql)/, { timeoutMs: 60_000 });
  return { server, url: url as string };
}

/** Stops the server and returns everything it wrote, after checking it wrote debug lines at all. */
async function stopAndRead(server: SpawnedProcess): Promise<string> {
  server.kill('SIGTERM');
  expect(await server.exited()).toEqual({ code: 0, signal: null });
  const output = `${server.stdout()}\n${server.stderr()}`;
  // The search proves something only if the run logged at debug level and logged its operations.
  expect(output).toMatch(/DEBUG|"level":"debug"/);
  expect(output).toContain('operation');
  return output;
}

function expectAbsent(output: string, secrets: Record<string, string>): void {
  const found = Object.entries(secrets)
    .filter(([, secret]) => output.includes(secret))
    .map(([what]) => what);
  expect(found).toEqual([]);
}

async function upstreamEmulator(): Promise<Emulator> {
  const emulator = await createEmulator({
    host: '127.0.0.1',
    port: 0,
    seedDemoData: true,
    tokens: {
      [SERVER_TOKEN]: { accounts: [ACCOUNT], write: true },
      [CLIENT_TOKEN]: { accounts: [ACCOUNT], write: true },
    },
  });
  emulators.push(emulator);
  return emulator;
}

// As long as a start may take on a loaded machine (see start below), and the test's requests after it.
describe('a debug-level run of the server process writes no secret', { timeout: 90_000 }, () => {
  it('AUTH_MODE=api-key (LOG_FORMAT=pretty): the key, a bad key, another Authorization value', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'log-redaction-'));
    dirs.push(dir);
    const { key, entry } = createApiKey({ id: 'redaction-key', scopes: ['workflows:read'] });
    const bad = createApiKey({ id: 'unknown', scopes: ['workflows:read'] }).key;
    const file = join(dir, 'keys.json');
    await writeFile(file, JSON.stringify([entry]));
    const { server, url } = await start({ AUTH_MODE: 'api-key', API_KEYS_FILE: file, LOG_FORMAT: 'pretty' });

    expect(await post(url, { authorization: `Bearer ${key}` })).toBe(200);
    // Another key where a request id goes: it fits the characters of one, and only the logger can keep it out.
    expect(await post(url, { authorization: `Bearer ${key}`, 'x-request-id': bad })).toBe(200);
    expect(await post(url, { authorization: `Bearer ${bad}` })).toBe(401);
    expect(await post(url, { authorization: `Basic ${OTHER_SECRET}` })).toBe(401);
    expect(await overWebSocket(url, `Bearer ${key}`)).toBe('answered');
    expect(await overWebSocket(url, `Bearer ${bad}`)).toBe('closed 4401');

    const output = await stopAndRead(server);
    expectAbsent(output, { 'the key': key, 'a bad key': bad, 'another Authorization value': OTHER_SECRET });
    expect(output).toContain('redaction-key');
  });

  it('AUTH_MODE=jwt with JWT_SECRET, remote mode (LOG_FORMAT=json): the JWT, a forged one, the secret, the server token', async () => {
    const emulator = await upstreamEmulator();
    const { server, url } = await start({
      AUTH_MODE: 'jwt',
      JWT_SECRET,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      CLOUDFLARE_API_TOKEN: SERVER_TOKEN,
      CLOUDFLARE_ACCOUNT_ID: ACCOUNT,
      CLOUDFLARE_BASE_URL: emulator.url,
      LOG_FORMAT: 'json',
    });
    const sign = (secret: string) =>
      new SignJWT({ scope: 'workflows:read' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('redaction-subject')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret));
    const jwt = await sign(JWT_SECRET);
    const forged = await sign(OTHER_SECRET);

    expect(await post(url, { authorization: `Bearer ${jwt}` })).toBe(200);
    expect(await post(url, { authorization: `Bearer ${jwt}`, 'x-request-id': forged })).toBe(200);
    expect(await post(url, { authorization: `Bearer ${forged}` })).toBe(401);
    expect(await overWebSocket(url, `Bearer ${jwt}`)).toBe('answered');
    expect(await overWebSocket(url, `Bearer ${forged}`)).toBe('closed 4401');

    const output = await stopAndRead(server);
    expectAbsent(output, {
      'the JWT': jwt,
      'the forged JWT': forged,
      JWT_SECRET: JWT_SECRET,
      'the forging secret': OTHER_SECRET,
      CLOUDFLARE_API_TOKEN: SERVER_TOKEN,
    });
    // Each line of a json run is JSON.
    for (const line of server
      .stderr()
      .split('\n')
      .filter((l) => l !== ''))
      expect(() => JSON.parse(line)).not.toThrow();
    expect(output).toContain('redaction-subject');
  });

  it("AUTH_MODE=cloudflare-token: the client's token and a token the upstream refuses", async () => {
    const emulator = await upstreamEmulator();
    const { server, url } = await start({
      AUTH_MODE: 'cloudflare-token',
      CLOUDFLARE_ACCOUNT_ID: ACCOUNT,
      CLOUDFLARE_BASE_URL: emulator.url,
    });
    const as = (token: string) => ({ authorization: `Bearer ${token}`, 'x-cloudflare-account-id': ACCOUNT });

    expect(await post(url, as(CLIENT_TOKEN))).toBe(200);
    expect(await post(url, { ...as(CLIENT_TOKEN), 'x-request-id': CLIENT_TOKEN })).toBe(200);
    // The upstream refuses this one: the server logs the upstream's answer, never the token.
    await post(url, as(BAD_CLIENT_TOKEN));
    expect(await overWebSocket(url, `Bearer ${CLIENT_TOKEN}`, { 'x-cloudflare-account-id': ACCOUNT })).toBe('answered');

    const output = await stopAndRead(server);
    expectAbsent(output, { "the client's token": CLIENT_TOKEN, 'the refused token': BAD_CLIENT_TOKEN });
  });
});
