import { describe, expect, it } from 'vitest';
import { loadConfig, loggedSecrets } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { problemsOf } from '../helpers/config.js';

const PASSWORD = 'hunter2-redis-password-0123';

describe('REDIS_URL and REDIS_KEY_PREFIX', () => {
  it('leave everything in the process when unset, with the documented prefix', () => {
    expect(loadConfig({}).redis).toEqual({ url: undefined, keyPrefix: 'wfgql:', fallbackReplicas: 3 });
  });

  it('accept redis:// and rediss:// URLs with a user, a password and a database', () => {
    for (const url of [
      'redis://127.0.0.1:6379/0',
      'redis://localhost',
      `rediss://default:${PASSWORD}@redis.example.com:6380/2`,
      `redis://:${PASSWORD}@10.0.0.5:6379`,
    ]) {
      expect(loadConfig({ REDIS_URL: url, REDIS_KEY_PREFIX: 'team-a:prod.' }).redis).toEqual({
        url,
        keyPrefix: 'team-a:prod.',
        fallbackReplicas: 3,
      });
    }
  });

  it('refuse other URLs with a specific problem that never quotes the password', () => {
    const cases: [string, RegExp][] = [
      ['127.0.0.1:6379', /^REDIS_URL must (be a URL|start with redis:\/\/)/],
      [`http://user:${PASSWORD}@127.0.0.1:6379`, /^REDIS_URL must start with redis:\/\/ or rediss:\/\//],
      [`redis://user:${PASSWORD}@127.0.0.1:6379/zero`, /^REDIS_URL may only name a database number/],
      [`redis://:${PASSWORD}@127.0.0.1:6379/0?tls=true`, /^REDIS_URL must not have a query/],
      ['not a url', /^REDIS_URL must be a URL/],
    ];
    for (const [url, problem] of cases) {
      const problems = problemsOf({ REDIS_URL: url });
      expect(problems).toEqual([expect.stringMatching(problem)]);
      expect(problems.join('\n')).not.toContain(PASSWORD);
    }
    expect(problemsOf({ REDIS_URL: `http://user:${PASSWORD}@h` })[0]).toContain('http://***@h');
  });

  it('read REDIS_FALLBACK_REPLICAS as a whole number of at least 1, only with REDIS_URL', () => {
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1', REDIS_FALLBACK_REPLICAS: '8' }).redis.fallbackReplicas).toBe(8);
    for (const value of ['0', '-2', '2.5', 'three']) {
      expect(problemsOf({ REDIS_URL: 'redis://127.0.0.1', REDIS_FALLBACK_REPLICAS: value })).toEqual([
        expect.stringMatching(/^REDIS_FALLBACK_REPLICAS /),
      ]);
    }
    expect(problemsOf({ REDIS_FALLBACK_REPLICAS: '4' })).toEqual([
      'REDIS_FALLBACK_REPLICAS is set but REDIS_URL is not: it only applies with REDIS_URL',
    ]);
  });

  it('refuse a prefix outside the safe characters, and a prefix without a URL', () => {
    for (const prefix of ['wfgql *', 'a\nb', 'x'.repeat(65), 'prefix{tag}']) {
      expect(problemsOf({ REDIS_URL: 'redis://127.0.0.1', REDIS_KEY_PREFIX: prefix })).toEqual([
        expect.stringMatching(/^REDIS_KEY_PREFIX must be 1 to 64 letters, digits or the characters : _ \. -/),
      ]);
    }
    expect(problemsOf({ REDIS_KEY_PREFIX: 'wfgql:' })).toEqual([
      'REDIS_KEY_PREFIX is set but REDIS_URL is not: the prefix only applies with REDIS_URL',
    ]);
  });

  it("scrub the URL's password from every log line", () => {
    const config = loadConfig({ REDIS_URL: `redis://default:${PASSWORD}@127.0.0.1:6379/0` });
    expect(loggedSecrets(config)).toContain(PASSWORD);
    const lines: string[] = [];
    const logger = createLogger('info', loggedSecrets(config), { destination: { write: (line) => lines.push(line) } });
    logger.warn({ url: config.redis.url }, `connecting to ${config.redis.url}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(PASSWORD);
    // A percent-encoded password is scrubbed as written and as ioredis sends it.
    const encoded = loadConfig({ REDIS_URL: 'redis://:p%40ss%2Fword-0123456789@127.0.0.1' });
    expect(loggedSecrets(encoded)).toEqual(
      expect.arrayContaining(['p%40ss%2Fword-0123456789', 'p@ss/word-0123456789']),
    );
  });
});
