import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { spawnEntry, type SpawnedProcess } from '../helpers/process.js';

// src/logging/unhandled-failures.ts and src/main.ts: a failure nothing handled, or a failure to start once the
// logger exists, ends the real server process with one structured, scrubbed line, where Node would print a raw stack
// holding whatever the error's message held.

const JWT_SECRET = `jwt-secret-${randomBytes(24).toString('hex')}`;
/** Starting the server through tsx takes a few seconds on a loaded machine. */
const TIMEOUT_MS = 60_000;

const SERVER_ENV = {
  PORT: '0',
  LOG_FORMAT: 'json',
  AUTH_MODE: 'jwt',
  JWT_SECRET,
  JWT_ISSUER: 'https://issuer.test',
  JWT_AUDIENCE: 'workflows-graphql',
};

/** Every line the process wrote to stderr, each parsed as JSON (a line that is not fails the test). */
function stderrRecords(server: SpawnedProcess): Record<string, unknown>[] {
  return server
    .stderr()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('a failure that nothing handles', () => {
  it.each([
    ['a rejected promise', 'rejection', 'unhandledRejection'],
    ['a thrown exception', 'exception', 'uncaughtException'],
  ])(
    '%s ends the process with exit code 1 and one fatal JSON line, secrets scrubbed',
    async (_, kind, origin) => {
      const server = spawnEntry(
        'src/main.ts',
        { ...SERVER_ENV, FAULT_KIND: kind, FAULT_SECRET: JWT_SECRET },
        { preload: ['./test/fixtures/fault-on-signal.ts'] },
      );
      await server.waitForLine(/ at http:\/\/\S+\/graphql/, { timeoutMs: TIMEOUT_MS });
      server.kill('SIGUSR2');
      expect(await server.exited()).toEqual({ code: 1, signal: null });

      expect(`${server.stdout()}\n${server.stderr()}`).not.toContain(JWT_SECRET);
      // Every line on stderr is JSON: no raw stack from Node.
      const fatal = stderrRecords(server).filter((record) => record.level === 'fatal');
      expect(fatal).toEqual([
        expect.objectContaining({
          origin,
          msg: `${origin}: the process ends`,
          err: expect.objectContaining({ message: 'a library bug holding [REDACTED]' }),
        }),
      ]);
    },
    TIMEOUT_MS,
  );

  it(
    'a failure to start once the logger exists (the port is taken) is one fatal JSON line, and exit code 1',
    async () => {
      const squatter = createServer();
      await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
      const taken = (squatter.address() as AddressInfo).port;
      try {
        const server = spawnEntry('src/main.ts', { ...SERVER_ENV, HOST: '127.0.0.1', PORT: String(taken) });
        expect(await server.exited()).toEqual({ code: 1, signal: null });
        expect(`${server.stdout()}\n${server.stderr()}`).not.toContain(JWT_SECRET);
        expect(stderrRecords(server).filter((record) => record.level === 'fatal')).toEqual([
          expect.objectContaining({
            msg: 'failed to start',
            err: expect.objectContaining({
              message: expect.stringContaining(
                `Cannot listen on 127.0.0.1:${taken} (PORT): the port is in use (EADDRINUSE)`,
              ) as unknown,
            }),
          }),
        ]);
      } finally {
        await new Promise<void>((resolve) => squatter.close(() => resolve()));
      }
    },
    TIMEOUT_MS,
  );
});
