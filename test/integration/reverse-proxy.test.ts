import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { createConfig } from '../../src/config.js';

let app: App;
let url: string;

beforeAll(async () => {
  // `{ __typename }` makes no upstream call: no emulator needed.
  app = createApp(createConfig({ logLevel: 'silent' }));
  url = await app.start(0, '127.0.0.1');
});
afterAll(() => app.stop());

const typename = JSON.stringify({ query: '{ __typename }' });

describe('behind nginx', () => {
  it.each([
    ["yoga's own event stream on /graphql", ''],
    ["graphql-sse's event stream on /graphql/stream", '/stream'],
  ])('%s says X-Accel-Buffering: no, so that nginx passes each event on at once', async (_, path) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: typename,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    // The stream is the operation's: one result, then the end.
    expect(await response.text()).toContain('"__typename":"Query"');
  });

  it('leaves other responses to the proxy: a JSON answer may be buffered', async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: typename,
    });
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
    expect(response.headers.get('x-accel-buffering')).toBeNull();
  });
});
