import { describe, expect, it } from 'vitest';
import { createBrowserSafety, type RequestHead } from '../../src/transport/browser-safety.js';

/**
 * The rules of src/transport/browser-safety.ts on request heads, where the details (ports, IPv6, case,
 * same-origin pages, `*`) are cheaper to cover than over HTTP; test/integration/browser-safety.test.ts sends
 * the attacks themselves.
 */

const LOOPBACK = { allowedHosts: ['localhost', '127.0.0.1', '[::1]'], corsOrigins: [] };

/** The code a request gets, or `ok`. */
function verdict(
  config: { allowedHosts: string[]; corsOrigins: string[] },
  request: RequestHead,
  kind: 'request' | 'upgrade' = 'request',
): string {
  const safety = createBrowserSafety(config);
  const refusal = kind === 'request' ? safety.checkRequest(request) : safety.checkUpgrade(request);
  return refusal === undefined ? 'ok' : `${refusal.status} ${refusal.error.extensions.code ?? ''}`;
}

const get = (headers: RequestHead['headers']): RequestHead => ({ method: 'GET', headers });

describe('the Host check (ALLOWED_HOSTS)', () => {
  it('accepts a name on any port, or on the one port it lists, in any case', () => {
    const config = { allowedHosts: ['localhost', 'gw.example.com:8443', '[::1]', '[fd00::1]:4000'], corsOrigins: [] };
    for (const host of ['localhost', 'LOCALHOST:4000', 'gw.example.com:8443', '[::1]:4000', '[::1]', '[fd00::1]:4000'])
      expect([host, verdict(config, get({ host }))]).toEqual([host, 'ok']);
    for (const host of ['gw.example.com', 'gw.example.com:443', 'evil.localhost:4000', 'localhost.', '[fd00::1]', ''])
      expect([host, verdict(config, get({ host }))]).toEqual([host, '421 HOST_NOT_ALLOWED']);
    expect(verdict(config, get({}))).toBe('421 HOST_NOT_ALLOWED');
  });

  it('accepts any Host under *', () => {
    expect(verdict({ allowedHosts: ['*'], corsOrigins: [] }, get({ host: 'anything.example:1' }))).toBe('ok');
  });

  it('applies to upgrades, preflights and every method', () => {
    for (const method of ['GET', 'POST', 'OPTIONS', 'PUT', 'DELETE'])
      expect(verdict(LOOPBACK, { method, headers: { host: 'evil.example' } })).toBe('421 HOST_NOT_ALLOWED');
    expect(verdict(LOOPBACK, get({ host: 'evil.example' }), 'upgrade')).toBe('421 HOST_NOT_ALLOWED');
  });
});

describe('the Origin check (CORS_ORIGINS, the CORS rule)', () => {
  it('lets loopback pages and clients without an Origin through by default, and refuses the rest', () => {
    for (const origin of [undefined, 'http://localhost:5173', 'http://127.0.0.1:3000', 'http://[::1]:8080'])
      expect(verdict(LOOPBACK, get({ host: 'localhost:4000', origin }), 'upgrade')).toBe('ok');
    for (const origin of ['https://evil.example', 'null', 'https://localhost:5173', 'http://localhost.evil.example'])
      expect([origin, verdict(LOOPBACK, get({ host: 'localhost:4000', origin }), 'upgrade')]).toEqual([
        origin,
        '403 ORIGIN_NOT_ALLOWED',
      ]);
  });

  it('follows CORS_ORIGINS when it is set, and lets same-origin pages (GraphiQL) through', () => {
    const config = { allowedHosts: ['gw.example.com'], corsOrigins: ['https://dash.example.com'] };
    const from = (origin: string) => verdict(config, get({ host: 'gw.example.com', origin }), 'upgrade');
    expect(from('https://dash.example.com')).toBe('ok');
    expect(from('https://gw.example.com')).toBe('ok');
    expect(from('http://localhost:5173')).toBe('403 ORIGIN_NOT_ALLOWED');
    expect(from('https://gw.example.com:8443')).toBe('403 ORIGIN_NOT_ALLOWED');
  });

  it('does not count same-origin under ALLOWED_HOSTS=*, where a rebound page is same-origin too', () => {
    const config = { allowedHosts: ['*'], corsOrigins: [] };
    const request = get({ host: 'rebound.evil.example:4000', origin: 'http://rebound.evil.example:4000' });
    expect(verdict(config, request, 'upgrade')).toBe('403 ORIGIN_NOT_ALLOWED');
  });

  it('leaves CORS preflights (OPTIONS) to CORS, and allows every origin under CORS_ORIGINS=*', () => {
    const preflight = { method: 'OPTIONS', headers: { host: 'localhost', origin: 'https://evil.example' } };
    expect(verdict(LOOPBACK, preflight)).toBe('ok');
    expect(
      verdict({ ...LOOPBACK, corsOrigins: ['*'] }, get({ host: 'localhost', origin: 'https://any.example' })),
    ).toBe('ok');
  });
});

describe('the POST Content-Type check', () => {
  const post = (contentType?: string): RequestHead => ({
    method: 'POST',
    headers: { host: 'localhost', ...(contentType === undefined ? {} : { 'content-type': contentType }) },
  });

  it('refuses the types a page may send without a preflight, however they are written, and none', () => {
    for (const type of [
      undefined,
      '',
      'text/plain',
      'TEXT/PLAIN;charset=UTF-8',
      'text/plain; charset=application/json',
      ' application/x-www-form-urlencoded ',
      'multipart/form-data; boundary=x',
    ])
      expect([type, verdict(LOOPBACK, post(type))]).toEqual([type, '415 UNSUPPORTED_CONTENT_TYPE']);
  });

  it('accepts the types yoga reads (JSON, a bare GraphQL document), and only checks POSTs', () => {
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'application/graphql+json',
      'application/graphql',
    ])
      expect([type, verdict(LOOPBACK, post(type))]).toEqual([type, 'ok']);
    expect(verdict(LOOPBACK, { method: 'PUT', headers: { host: 'localhost' } })).toBe('ok');
  });

  it('refuses every other type, which yoga would answer with a bodiless 415', () => {
    for (const type of ['application/xml', 'multipart/mixed; boundary=x', 'application/octet-stream'])
      expect([type, verdict(LOOPBACK, post(type))]).toEqual([type, '415 UNSUPPORTED_CONTENT_TYPE']);
  });
});
