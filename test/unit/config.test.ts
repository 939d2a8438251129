import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_BASE_URL,
  LOCAL_ACCOUNT_ID,
  createConfig,
  loadConfig,
  loadEmulatorConfig,
  loggedSecrets,
} from '../../src/config.js';
import { problemsOf } from '../helpers/config.js';

const ACCOUNT = 'a'.repeat(32);

describe('loadConfig', () => {
  it('starts in local mode with documented defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.mode).toBe('local');
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.logLevel).toBe('info');
    expect(config.upstream.baseUrl).toBe(DEFAULT_BASE_URL);
    expect(config.upstream.accountId).toBe(LOCAL_ACCOUNT_ID);
    expect(config.upstream.rateLimit).toBe(1200);
    expect(config.upstream.rateWindowS).toBe(300);
    expect(config.pollIntervalMs).toBe(1000);
    expect(config.createInstancesLimit).toBe(1000);
    expect(Object.isFrozen(config.upstream)).toBe(true);
  });

  it('switches to remote mode when a token and account id are set', () => {
    const config = loadConfig({
      CLOUDFLARE_API_TOKEN: 'secret-token-value',
      CLOUDFLARE_ACCOUNT_ID: ACCOUNT,
      CLOUDFLARE_BASE_URL: 'http://127.0.0.1:8787/client/v4/',
      PORT: '0',
      LOG_LEVEL: 'DEBUG',
      UPSTREAM_RATE_LIMIT: '60',
      UPSTREAM_RATE_WINDOW_S: '15',
    });
    expect(config.mode).toBe('remote');
    expect(config.upstream).toMatchObject({
      apiToken: 'secret-token-value',
      accountId: ACCOUNT,
      baseUrl: 'http://127.0.0.1:8787/client/v4',
      rateLimit: 60,
      rateWindowS: 15,
    });
    expect(config.port).toBe(0);
    expect(config.logLevel).toBe('debug');
  });

  it('requires an account id in remote mode', () => {
    expect(problemsOf({ CLOUDFLARE_API_TOKEN: 'secret-token-value' })).toEqual([
      'CLOUDFLARE_ACCOUNT_ID is required when CLOUDFLARE_API_TOKEN is set',
    ]);
  });

  it('reports every invalid variable in one error', () => {
    const problems = problemsOf({
      CLOUDFLARE_API_TOKEN: 'secret token',
      CLOUDFLARE_ACCOUNT_ID: 'not-hex',
      CLOUDFLARE_BASE_URL: 'ftp://example',
      PORT: '99999',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'loud',
      UPSTREAM_RATE_LIMIT: '0',
      UPSTREAM_RATE_WINDOW_S: 'abc',
      UPSTREAM_CONNECT_TIMEOUT_MS: '-5',
      UPSTREAM_HEADERS_TIMEOUT_MS: '1.5',
      UPSTREAM_BODY_TIMEOUT_MS: 'x',
      UPSTREAM_MAX_RETRIES: '11',
      POLL_INTERVAL_MS: '10',
      FINISHED_INSTANCE_TTL_MS: '-1',
      CREATE_INSTANCES_LIMIT: '0',
      MAX_REQUEST_BYTES: '10',
      MAX_QUERY_COST: '0',
      MAX_SUBSCRIPTIONS_PER_CONNECTION: '0',
      MAX_SUBSCRIPTIONS: 'many',
      EMULATOR_PORT: '-1',
      EMULATOR_TIME_SCALE: '0',
      EMULATOR_RATE_LIMIT: '0',
      EMULATOR_RATE_WINDOW_S: '0',
      EMULATOR_LATENCY_MS: 'slow',
    });
    const named = problems.map((p) => p.split(' ')[0]);
    expect(named).toEqual([
      'CLOUDFLARE_ACCOUNT_ID',
      'CLOUDFLARE_API_TOKEN',
      'CLOUDFLARE_BASE_URL',
      'PORT',
      'LOG_LEVEL',
      'UPSTREAM_CONNECT_TIMEOUT_MS',
      'UPSTREAM_HEADERS_TIMEOUT_MS',
      'UPSTREAM_BODY_TIMEOUT_MS',
      'UPSTREAM_MAX_RETRIES',
      'UPSTREAM_RATE_LIMIT',
      'UPSTREAM_RATE_WINDOW_S',
      'EMULATOR_PORT',
      'EMULATOR_TIME_SCALE',
      'EMULATOR_RATE_LIMIT',
      'EMULATOR_RATE_WINDOW_S',
      'EMULATOR_LATENCY_MS',
      'POLL_INTERVAL_MS',
      'FINISHED_INSTANCE_TTL_MS',
      'CREATE_INSTANCES_LIMIT',
      'MAX_REQUEST_BYTES',
      'MAX_QUERY_COST',
      'MAX_SUBSCRIPTIONS_PER_CONNECTION',
      'MAX_SUBSCRIPTIONS',
    ]);
  });

  it('reads LOG_FORMAT: pretty by default in local mode outside production, json otherwise; refuses other values', () => {
    expect(loadConfig({}).logFormat).toBe('pretty');
    expect(loadConfig({ NODE_ENV: 'production', LOCAL_MODE: 'true' }).logFormat).toBe('json');
    expect(loadConfig({ CLOUDFLARE_API_TOKEN: 'token-123456', CLOUDFLARE_ACCOUNT_ID: ACCOUNT }).logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'JSON' }).logFormat).toBe('json');
    expect(problemsOf({ LOG_FORMAT: 'xml' })).toEqual(['LOG_FORMAT must be one of json, pretty (got "xml")']);
  });

  it('reads the upstream pool size and pipelining: no connection limit and no pipelining by default', () => {
    expect(loadConfig({}).upstream).toMatchObject({ connections: 0, pipelining: 1 });
    expect(loadConfig({ UPSTREAM_CONNECTIONS: '16', UPSTREAM_PIPELINING: '4' }).upstream).toMatchObject({
      connections: 16,
      pipelining: 4,
    });
    expect(problemsOf({ UPSTREAM_CONNECTIONS: '-1', UPSTREAM_PIPELINING: '0' })).toEqual([
      'UPSTREAM_CONNECTIONS must be an integer >= 0 (got "-1")',
      'UPSTREAM_PIPELINING must be an integer between 1 and 100 (got "0")',
    ]);
    expect(problemsOf({ UPSTREAM_PIPELINING: '101' })).toEqual([
      'UPSTREAM_PIPELINING must be an integer between 1 and 100 (got "101")',
    ]);
  });

  it('never echoes the API token in its messages', () => {
    const token = 'super secret-token';
    const problems = problemsOf({ CLOUDFLARE_API_TOKEN: token, CLOUDFLARE_ACCOUNT_ID: ACCOUNT });
    expect(problems).toHaveLength(1);
    expect(problems.join('\n')).not.toContain(token);
  });

  it('lists the problems in the error message, one per line', () => {
    expect(() => loadConfig({ PORT: 'abc', LOG_LEVEL: 'x' })).toThrowError(
      /Invalid configuration:\n {2}- PORT must be an integer between 0 and 65535 \(got "abc"\)\n {2}- LOG_LEVEL/,
    );
  });
});

describe('loadEmulatorConfig', () => {
  it('reads the emulator variables with their defaults', () => {
    expect(loadEmulatorConfig({})).toEqual({
      port: 8787,
      host: '127.0.0.1',
      apiToken: undefined,
      timeScale: 1,
      rateLimit: undefined,
      rateWindowS: 300,
      latencyMs: 0,
    });
    expect(loadEmulatorConfig({ EMULATOR_RATE_LIMIT: '60', EMULATOR_TIME_SCALE: '60' })).toMatchObject({
      rateLimit: 60,
      timeScale: 60,
    });
  });
});

describe('EMULATOR_TOKENS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'emulator-tokens-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const SECRET = 'secret-token-1b7e';
  const table = {
    [SECRET]: { accounts: [ACCOUNT], write: false },
    'writer-9c': { accounts: [ACCOUNT, 'b'], write: true },
  };

  function tokenProblems(value: string): readonly string[] {
    try {
      loadEmulatorConfig({ EMULATOR_TOKENS: value });
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    throw new Error('expected loadEmulatorConfig to throw');
  }

  it('reads the table inline or from the file it names', () => {
    expect(loadEmulatorConfig({ EMULATOR_TOKENS: JSON.stringify(table) }).tokens).toEqual(table);
    const file = join(dir, 'tokens.json');
    writeFileSync(file, JSON.stringify(table));
    expect(loadEmulatorConfig({ EMULATOR_TOKENS: file }).tokens).toEqual(table);
    expect(loadConfig({ EMULATOR_TOKENS: ` ${JSON.stringify(table)} ` }).emulator.tokens).toEqual(table);
    expect(loadEmulatorConfig({}).tokens).toBeUndefined();
    // An own key, not the object's prototype.
    const proto = loadEmulatorConfig({ EMULATOR_TOKENS: '{"__proto__": {"accounts": ["a"], "write": true}}' }).tokens!;
    expect(Object.keys(proto)).toEqual(['__proto__']);
  });

  it('reports bad JSON, an unreadable file and every wrong shape, naming EMULATOR_TOKENS and never a token', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, `{ "${SECRET}": `);
    const cases: [string, RegExp[]][] = [
      [`{ "${SECRET}": { "accounts": [`, [/^EMULATOR_TOKENS is not valid JSON$/]],
      [file, [/^EMULATOR_TOKENS is not valid JSON \(the file it names\)$/]],
      [join(dir, SECRET), [/^EMULATOR_TOKENS must be a JSON object or the path of a readable JSON file .*ENOENT/]],
      [`["${SECRET}"]`, [/^EMULATOR_TOKENS must be an object with at least one token/]],
      ['{}', [/^EMULATOR_TOKENS must be an object with at least one token/]],
      [JSON.stringify({ [SECRET]: true }), [/^EMULATOR_TOKENS entry #1 must be \{ "accounts"/]],
      [
        JSON.stringify({ ok: { accounts: ['a'], write: true }, [SECRET]: { accounts: [], write: 'yes' } }),
        [/^EMULATOR_TOKENS entry #2: accounts must be a non-empty array/, /^EMULATOR_TOKENS entry #2: write must be/],
      ],
      [JSON.stringify({ [SECRET]: { accounts: ['a', 7] } }), [/accounts must be/, /write must be true or false/]],
      [
        JSON.stringify({ [SECRET]: { accounts: ['a'], write: true, [`${SECRET}-2`]: {} } }),
        [/^EMULATOR_TOKENS entry #1 may only have the fields accounts and write$/],
      ],
      [
        JSON.stringify({ [`${SECRET} x`]: { accounts: ['a'], write: true } }),
        [/^EMULATOR_TOKENS entry #1: the token must be non-empty, without whitespace$/],
      ],
    ];
    for (const [value, expected] of cases) {
      const problems = tokenProblems(value);
      expect(problems, value).toHaveLength(expected.length);
      expected.forEach((pattern, i) => expect(problems[i], value).toMatch(pattern));
      expect(problems.join('\n')).not.toContain(SECRET);
      expect(problemsOf({ EMULATOR_TOKENS: value })).toEqual(problems);
    }
  });
});

describe('document limits', () => {
  it('default to limits no frontend of this schema reaches, and read MAX_DOCUMENT_BYTES, MAX_TOKENS, MAX_ALIASES, MAX_DEPTH, MAX_DIRECTIVES', () => {
    expect(loadConfig({}).documentLimits).toEqual({
      maxBytes: 65_536,
      maxTokens: 2000,
      maxAliases: 300,
      maxDepth: 20,
      maxDirectives: 50,
    });
    const env = {
      MAX_DOCUMENT_BYTES: '2048',
      MAX_TOKENS: '500',
      MAX_ALIASES: '0',
      MAX_DEPTH: '8',
      MAX_DIRECTIVES: '3',
    };
    expect(loadConfig(env).documentLimits).toEqual({
      maxBytes: 2048,
      maxTokens: 500,
      maxAliases: 0,
      maxDepth: 8,
      maxDirectives: 3,
    });
  });

  it('reports values below their minimum, and values that are not integers', () => {
    const problems = problemsOf({
      MAX_DOCUMENT_BYTES: '100',
      MAX_TOKENS: '10',
      MAX_ALIASES: '-1',
      MAX_DEPTH: '2',
      MAX_DIRECTIVES: 'many',
    });
    expect(problems.map((p) => p.split(' ')[0])).toEqual([
      'MAX_DOCUMENT_BYTES',
      'MAX_TOKENS',
      'MAX_ALIASES',
      'MAX_DEPTH',
      'MAX_DIRECTIVES',
    ]);
  });
});

describe('METRICS and METRICS_PORT', () => {
  it('default to metrics on the main port, and read a separate port or METRICS=false', () => {
    expect(loadConfig({}).metrics).toEqual({ enabled: true, port: null, host: '127.0.0.1' });
    expect(loadConfig({ METRICS_PORT: '9464' }).metrics).toEqual({ enabled: true, port: 9464, host: '127.0.0.1' });
    expect(loadConfig({ METRICS: 'false' }).metrics).toEqual({ enabled: false, port: null, host: '127.0.0.1' });
  });

  it('report a value that is not one, a port equal to PORT, and a port for metrics turned off', () => {
    expect(problemsOf({ METRICS: 'maybe' })).toEqual(['METRICS must be one of true, false (got "maybe")']);
    expect(problemsOf({ METRICS_PORT: '70000' })).toEqual([
      'METRICS_PORT must be an integer between 0 and 65535 (got "70000")',
    ]);
    expect(problemsOf({ PORT: '9000', METRICS_PORT: '9000' })).toEqual([
      'METRICS_PORT must differ from PORT (both are 9000)',
    ]);
    expect(problemsOf({ METRICS_PORT: '4000' })).toEqual(['METRICS_PORT must differ from PORT (both are 4000)']);
    expect(problemsOf({ METRICS: 'false', METRICS_PORT: '9464' })).toEqual([
      'METRICS_PORT is set but METRICS=false turns metrics off',
    ]);
  });

  it('read METRICS_HOST as an address or a name (IPv6 without brackets, as listen takes it)', () => {
    for (const [value, host] of [
      ['0.0.0.0', '0.0.0.0'],
      ['10.0.0.5', '10.0.0.5'],
      ['::', '::'],
      ['[::1]', '::1'],
      ['metrics.internal', 'metrics.internal'],
    ])
      expect(loadConfig({ METRICS_PORT: '9464', METRICS_HOST: value }).metrics.host, value).toBe(host);
  });

  it('report a METRICS_HOST that is neither, and one without METRICS_PORT', () => {
    for (const value of ['http://0.0.0.0', '10.0.0.5:9464', 'a b', '[not-v6]'])
      expect(problemsOf({ METRICS_PORT: '9464', METRICS_HOST: value }), value).toEqual([
        `METRICS_HOST must be an IP address or a host name, such as 127.0.0.1, 0.0.0.0 or ::1 (got "${value}")`,
      ]);
    expect(problemsOf({ METRICS_HOST: '0.0.0.0' })).toEqual([
      'METRICS_HOST is set but METRICS_PORT is not: /metrics is then served on the main port (HOST)',
    ]);
  });
});

describe('REQUEST_TIMEOUT_MS', () => {
  it('defaults to a minute and reads whole milliseconds from 1000 to an hour', () => {
    expect(loadConfig({}).requestTimeoutMs).toBe(60_000);
    expect(loadConfig({ REQUEST_TIMEOUT_MS: '5000' }).requestTimeoutMs).toBe(5000);
    expect(problemsOf({ REQUEST_TIMEOUT_MS: '999' })).toEqual([
      'REQUEST_TIMEOUT_MS must be an integer between 1000 and 3600000 (got "999")',
    ]);
  });
});

describe('loggedSecrets', () => {
  it('holds the values of the OTLP exporter headers, as written and decoded, when tracing is on', () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20collector-secret-1, x-team = team-secret-2',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-other=traces-secret-3',
    };
    expect(loggedSecrets(loadConfig(env))).toEqual(
      expect.arrayContaining([
        'Bearer%20collector-secret-1',
        'Bearer collector-secret-1',
        'team-secret-2',
        'traces-secret-3',
      ]),
    );
  });
});

describe('createConfig', () => {
  it('overrides nested fields and keeps the other defaults', () => {
    const config = createConfig({ upstream: { baseUrl: 'http://127.0.0.1:1/client/v4' }, pollIntervalMs: 100 });
    expect(config.upstream.baseUrl).toBe('http://127.0.0.1:1/client/v4');
    expect(config.upstream.rateLimit).toBe(1200);
    expect(config.pollIntervalMs).toBe(100);
  });
});

describe('CORS_ORIGINS', () => {
  it('accepts exact origins and *, and reports anything else', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example, http://localhost:5173' }).corsOrigins).toEqual([
      'https://a.example',
      'http://localhost:5173',
    ]);
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://a.example/path,nope' })).toThrowError(
      /CORS_ORIGINS must list origins .* \(got "https:\/\/a.example\/path"\)\n {2}- CORS_ORIGINS must list origins .* \(got "nope"\)/,
    );
  });
});

describe('ALLOWED_HOSTS', () => {
  it('defaults to the loopback names while HOST is a loopback address', () => {
    for (const HOST of [undefined, '127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]']) {
      const env: Record<string, string> = HOST === undefined ? {} : { HOST };
      expect(loadConfig(env).allowedHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
    }
  });

  it('is required on any other HOST, and says why', () => {
    for (const HOST of ['0.0.0.0', '::', '10.0.0.5', 'gw.internal']) {
      // AUTH_MODE is set, so that the only problem left is the Host list (AUTH_MODE has its own tests).
      expect(problemsOf({ HOST, AUTH_MODE: 'none' })).toEqual([
        `ALLOWED_HOSTS is required when HOST (${HOST}) is not a loopback address: list the host names clients reach this server by (graphql.example.com, or with a port), or * to accept any Host header (no DNS-rebinding protection)`,
      ]);
    }
    expect(loadConfig({ HOST: '0.0.0.0', AUTH_MODE: 'none', ALLOWED_HOSTS: '*' }).allowedHosts).toEqual(['*']);
  });

  it('reads names, ports and bracketed IPv6 addresses, lower-cased, and reports anything else', () => {
    expect(
      loadConfig({
        HOST: '0.0.0.0',
        AUTH_MODE: 'none',
        ALLOWED_HOSTS: 'GW.example.com, 10.0.0.5:4000,[fd00::1]:4000,[::1],my-host',
      }).allowedHosts,
    ).toEqual(['gw.example.com', '10.0.0.5:4000', '[fd00::1]:4000', '[::1]', 'my-host']);
    expect(problemsOf({ ALLOWED_HOSTS: 'http://gw.example.com,fd00::1,a b' })).toEqual([
      'ALLOWED_HOSTS must list host names such as graphql.example.com or 10.0.0.5:4000 (IPv6 in brackets), or * (got "http://gw.example.com")',
      'ALLOWED_HOSTS must list host names such as graphql.example.com or 10.0.0.5:4000 (IPv6 in brackets), or * (got "fd00::1")',
      'ALLOWED_HOSTS must list host names such as graphql.example.com or 10.0.0.5:4000 (IPv6 in brackets), or * (got "a b")',
    ]);
    expect(problemsOf({ ALLOWED_HOSTS: ' , ' })).toEqual([
      'ALLOWED_HOSTS must list at least one host name, or * (got ",")',
    ]);
  });
});
