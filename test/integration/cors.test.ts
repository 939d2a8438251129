import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createConfig } from '../../src/config.js';

function preflight(app: ReturnType<typeof createApp>, origin: string): Promise<Response> {
  return Promise.resolve(
    app.yoga.fetch('http://127.0.0.1/graphql', {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    }),
  );
}

describe('CORS', () => {
  it('lets pages served from loopback call the API by default', async () => {
    const app = createApp(createConfig({ logLevel: 'silent' }));
    for (const origin of ['http://localhost:5173', 'http://127.0.0.1:3000', 'http://[::1]:8080']) {
      const response = await preflight(app, origin);
      expect(response.headers.get('access-control-allow-origin')).toBe(origin);
    }
    await app.stop();
  });

  it('refuses other origins unless CORS_ORIGINS lists them', async () => {
    const closed = createApp(createConfig({ logLevel: 'silent' }));
    expect((await preflight(closed, 'https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
    await closed.stop();

    const open = createApp(createConfig({ logLevel: 'silent', corsOrigins: ['https://dash.example.com'] }));
    expect((await preflight(open, 'https://dash.example.com')).headers.get('access-control-allow-origin')).toBe(
      'https://dash.example.com',
    );
    expect((await preflight(open, 'http://localhost:5173')).headers.get('access-control-allow-origin')).toBeNull();
    await open.stop();
  });
});
