import { describe, expect, it } from 'vitest';
import { LOCAL_ACCOUNT_ID, loadConfig } from '../../src/config.js';
import { problemsOf } from '../helpers/config.js';

// Never demo data by accident (issue 13): local mode serves the embedded emulator's demo data, so it is refused in
// production and next to partial remote variables unless LOCAL_MODE=true asks for it.

const ACCOUNT = 'b'.repeat(32);
const TOKEN = 'config-local-mode-token-0123456789';
const HELP =
  "set CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID to use the Cloudflare API, or LOCAL_MODE=true to serve the embedded emulator's demo data on purpose";

describe('loadConfig refuses local mode by accident', () => {
  it('refuses NODE_ENV=production without a token', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toEqual([
      `NODE_ENV=production and CLOUDFLARE_API_TOKEN is not set: ${HELP}`,
    ]);
  });

  it('refuses CLOUDFLARE_ACCOUNT_ID without a token, in development too', () => {
    expect(problemsOf({ CLOUDFLARE_ACCOUNT_ID: ACCOUNT })).toEqual([
      `CLOUDFLARE_API_TOKEN is not set, but CLOUDFLARE_ACCOUNT_ID is: ${HELP}`,
    ]);
  });

  it('refuses CLOUDFLARE_BASE_URL without a token, naming every remote variable that is set', () => {
    expect(
      problemsOf({ NODE_ENV: 'production', CLOUDFLARE_ACCOUNT_ID: ACCOUNT, CLOUDFLARE_BASE_URL: 'http://127.0.0.1:1' }),
    ).toEqual([`CLOUDFLARE_API_TOKEN is not set, but CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_BASE_URL are: ${HELP}`]);
  });

  it('refuses a token without CLOUDFLARE_ACCOUNT_ID', () => {
    expect(problemsOf({ NODE_ENV: 'production', CLOUDFLARE_API_TOKEN: TOKEN })).toEqual([
      'CLOUDFLARE_ACCOUNT_ID is required when CLOUDFLARE_API_TOKEN is set',
    ]);
  });

  it('refuses LOCAL_MODE=false without a token', () => {
    expect(problemsOf({ LOCAL_MODE: 'false' })).toEqual([
      'LOCAL_MODE=false requires CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID (CLOUDFLARE_API_TOKEN is not set)',
    ]);
  });

  it('refuses LOCAL_MODE=true next to a token, and next to CLOUDFLARE_BASE_URL, which local mode ignores', () => {
    expect(problemsOf({ LOCAL_MODE: 'true', CLOUDFLARE_API_TOKEN: TOKEN, CLOUDFLARE_ACCOUNT_ID: ACCOUNT })).toEqual([
      'LOCAL_MODE=true conflicts with CLOUDFLARE_API_TOKEN: unset CLOUDFLARE_API_TOKEN to run the embedded emulator, or LOCAL_MODE to use the Cloudflare API',
    ]);
    expect(problemsOf({ LOCAL_MODE: 'true', CLOUDFLARE_BASE_URL: 'http://127.0.0.1:1' })).toEqual([
      'CLOUDFLARE_BASE_URL is set but LOCAL_MODE=true runs the embedded emulator, which ignores it: unset one of them',
    ]);
  });

  it('refuses a LOCAL_MODE that is neither true nor false', () => {
    expect(problemsOf({ LOCAL_MODE: 'yes' })).toEqual(['LOCAL_MODE must be true or false (got "yes")']);
  });

  it('never echoes the token in a refusal', () => {
    const problems = problemsOf({ NODE_ENV: 'production', LOCAL_MODE: 'true', CLOUDFLARE_API_TOKEN: TOKEN });
    expect(problems.join('\n')).not.toContain(TOKEN);
  });
});

describe('loadConfig allows local mode on purpose', () => {
  it('starts local mode with nothing set outside production (npm start)', () => {
    expect(loadConfig({}).mode).toBe('local');
    expect(loadConfig({ NODE_ENV: 'development' }).mode).toBe('local');
  });

  it('starts local mode in production with LOCAL_MODE=true (any case), with or without an account id', () => {
    const config = loadConfig({ NODE_ENV: 'production', LOCAL_MODE: 'TRUE' });
    expect(config.mode).toBe('local');
    expect(config.upstream.accountId).toBe(LOCAL_ACCOUNT_ID);
    const named = loadConfig({ NODE_ENV: 'production', LOCAL_MODE: 'true', CLOUDFLARE_ACCOUNT_ID: ACCOUNT });
    expect(named.mode).toBe('local');
    expect(named.upstream.accountId).toBe(ACCOUNT);
  });

  it('starts remote mode with both credentials, and accepts LOCAL_MODE=false there', () => {
    const env = { NODE_ENV: 'production', CLOUDFLARE_API_TOKEN: TOKEN, CLOUDFLARE_ACCOUNT_ID: ACCOUNT };
    expect(loadConfig(env).mode).toBe('remote');
    expect(loadConfig({ ...env, LOCAL_MODE: 'false' }).mode).toBe('remote');
  });
});

describe('loadConfig with AUTH_MODE=cloudflare-token', () => {
  it('starts remote mode in production without a server token: clients bring theirs', () => {
    const config = loadConfig({ NODE_ENV: 'production', AUTH_MODE: 'cloudflare-token' });
    expect(config.mode).toBe('remote');
    expect(config.upstream.apiToken).toBe('');
    expect(loadConfig({ AUTH_MODE: 'cloudflare-token', CLOUDFLARE_ACCOUNT_ID: ACCOUNT }).mode).toBe('remote');
  });

  it('refuses LOCAL_MODE=true, which would serve demo data to clients that bring real tokens', () => {
    expect(problemsOf({ AUTH_MODE: 'cloudflare-token', LOCAL_MODE: 'true' })).toEqual([
      'LOCAL_MODE=true cannot be combined with AUTH_MODE=cloudflare-token: clients bring Cloudflare API tokens for the real API; unset one of them',
    ]);
  });
});
