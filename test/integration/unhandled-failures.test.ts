import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { spawnCommand } from '../helpers/process.js';

// src/logging/unhandled-failures.ts: a failure nothing handled ends the real server process (src/main.ts) with one
// structured, scrubbed line, where Node would print a raw stack holding whatever the error's message held.

const JWT_SECRET = `jwt-secret-${randomBytes(24).toString('hex')}`;

describe('a failure that nothing handles', () => {
  it.each([
    ['a rejected promise', 'rejection', 'unhandledRejection'],
    ['a thrown exception', 'exception', 'uncaughtException'],
  ])('%s ends the process with exit code 1 and one fatal JSON line, secrets scrubbed', async (_, kind, origin) => {
    const server = spawnCommand(
      process.execPath,
      ['--import', 'tsx', '--import', './test/fixtures/fault-on-signal.ts', 'src/main.ts'],
      {
        PORT: '0',
        LOG_FORMAT: 'json',
        AUTH_MODE: 'jwt',
        JWT_SECRET,
        JWT_ISSUER: 'https://issuer.test',
        JWT_AUDIENCE: 'workflows-graphql',
        FAULT_KIND: kind,
        FAULT_SECRET: JWT_SECRET,
      },
    );
    await server.waitForLine(/ at http:\/\/\S+\/graphql/, { timeoutMs: 60_000 });
    server.kill('SIGUSR2');
    expect(await server.exited()).toEqual({ code: 1, signal: null });

    const output = `${server.stdout()}\n${server.stderr()}`;
    expect(output).not.toContain(JWT_SECRET);
    const lines = server
      .stderr()
      .split('\n')
      .filter((line) => line !== '');
    // Every line on stderr is JSON: no raw stack from Node.
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const fatal = records.filter((record) => record.level === 'fatal');
    expect(fatal).toEqual([
      expect.objectContaining({
        origin,
        msg: `${origin}: the process ends`,
        err: expect.objectContaining({ message: 'a library bug holding [REDACTED]' }),
      }),
    ]);
  });
});
