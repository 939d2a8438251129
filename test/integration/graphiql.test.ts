import { request, type IncomingHttpHeaders } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { AuthenticationFailure, type Authenticator, type Principal } from '../../src/auth/principal.js';
import { ConfigError, createConfig, loadConfig } from '../../src/config.js';
import { parse, validate } from 'graphql';
import { CREATE_ORDER_MUTATION, DEFAULT_TABS, WATCH_ORDER_SUBSCRIPTION } from '../../src/graphiql.js';
import { schema } from '../../src/schema/index.js';
import { expectData } from '../helpers/graphql.js';
import { wsClient, type SubscriptionResult } from '../helpers/live.js';
import { startStack } from '../helpers/stack.js';
import { waitFor } from '../helpers/wait.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

/** Accepts `Bearer letmein` only. */
const authenticator: Authenticator = {
  mode: 'api-key',
  async authenticate(authorization) {
    if (authorization !== 'Bearer letmein') throw new AuthenticationFailure('A valid API key is required.');
    const principal: Principal = { id: 'key', mode: 'api-key', scopes: new Set(['workflows:read']), workflows: null };
    return principal;
  },
};

const started: App[] = [];
afterAll(() => Promise.all(started.map((app) => app.stop())));

async function start(graphiql: boolean, auth?: Authenticator): Promise<URL> {
  const app = createApp(createConfig({ logLevel: 'silent', graphiql }), auth ? { authenticator: auth } : {});
  started.push(app);
  return new URL(await app.start(0, '127.0.0.1'));
}

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The bytes as sent: node:http decompresses nothing. */
  readonly body: Buffer;
}

function get(url: URL, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GraphiQL', () => {
  let url: URL;
  let page: Answer;
  beforeAll(async () => {
    url = await start(true);
    page = await get(url, { accept: BROWSER_ACCEPT });
  });

  it('is one page with every asset inlined, sent as it is to a browser that accepts no compression', () => {
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-encoding']).toBeUndefined();
    expect(page.headers['content-length']).toBe(String(page.body.length));
    const html = page.body.toString('utf8');
    expect(html).toContain('renderYogaGraphiQL');
    expect(html).toContain('query Dashboard');
    expect(html).toContain('mutation CreateOrder');
    expect(html).toContain('subscription WatchOrder');
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)="?https?:/);
  });

  it.each([
    ['gzip, deflate, br, zstd', 'br', brotliDecompressSync],
    ['br', 'br', brotliDecompressSync],
    ['*', 'br', brotliDecompressSync],
    ['gzip', 'gzip', gunzipSync],
    ['br;q=0, gzip', 'gzip', gunzipSync],
    ['br;q=0.5, gzip;q=1', 'gzip', gunzipSync],
  ])(
    'Accept-Encoding %s: sends it %s-compressed, the same page, with Content-Length and Vary',
    async (accepted, coding, decompress) => {
      const compressed = await get(url, { accept: BROWSER_ACCEPT, 'accept-encoding': accepted });
      expect(compressed.status).toBe(200);
      expect(compressed.headers['content-encoding']).toBe(coding);
      expect(compressed.headers['content-length']).toBe(String(compressed.body.length));
      expect(compressed.headers['vary']).toMatch(/accept-encoding/i);
      expect(decompress(compressed.body).equals(page.body)).toBe(true);
      // Measured: 9,054,941 bytes as they are; 1,916,093 with brotli, 2,431,734 with gzip.
      expect(compressed.body.length).toBeLessThan(page.body.length / 3);
    },
  );

  it.each(['identity', 'br;q=0, gzip;q=0', 'deflate'])('Accept-Encoding %s: sends it as it is', async (accepted) => {
    const plain = await get(url, { accept: BROWSER_ACCEPT, 'accept-encoding': accepted });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.equals(page.body)).toBe(true);
  });

  it('answers a revalidation with the ETag of the coding it was sent in with 304 and no body', async () => {
    const br = await get(url, { accept: BROWSER_ACCEPT, 'accept-encoding': 'br' });
    const etag = br.headers['etag'] as string;
    expect(etag).toMatch(/^".+"$/);
    expect(etag).not.toBe(page.headers['etag']);
    const again = await get(url, { accept: BROWSER_ACCEPT, 'accept-encoding': 'br', 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    // The gzip bytes are not the brotli bytes: that tag does not validate them.
    const gzip = await get(url, { accept: BROWSER_ACCEPT, 'accept-encoding': 'gzip', 'if-none-match': etag });
    expect(gzip.status).toBe(200);
    expect(gzip.headers['content-encoding']).toBe('gzip');
  });

  it('is served without a credential when clients need one, and runs nothing, a ?query= included', async () => {
    const guarded = await start(true, authenticator);
    const asked = new URL('/graphql?query=%7B__typename%7D', guarded);
    const answer = await get(asked, { accept: BROWSER_ACCEPT, 'accept-encoding': 'br' });
    expect(answer.status).toBe(200);
    expect(brotliDecompressSync(answer.body).toString('utf8')).toContain('renderYogaGraphiQL');
    // The same query from a GraphQL client without the credential is refused.
    const client = await get(asked, { accept: 'application/json' });
    expect(client.status).toBe(401);
    expect(client.body.toString('utf8')).not.toContain('"data"');
  });
});

describe('GRAPHIQL=false', () => {
  it('leaves /graphql to GraphQL: a browser gets the JSON error any GET without a query gets, no page', async () => {
    const url = await start(false);
    const answer = await get(url, { accept: BROWSER_ACCEPT, 'accept-encoding': 'gzip, br' });
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(answer.body.toString('utf8'))).toEqual({
      errors: [{ message: 'Must provide query string.', extensions: { code: 'BAD_REQUEST' } }],
    });
  });

  it('lets no browser request past authentication: without the credential, 401 and nothing runs', async () => {
    const url = await start(false, authenticator);
    for (const path of ['/graphql', '/graphql?query=%7B__typename%7D']) {
      const answer = await get(new URL(path, url), { accept: BROWSER_ACCEPT });
      expect(answer.status).toBe(401);
      expect(answer.body.toString('utf8')).not.toContain('"data"');
    }
  });

  it('is read from GRAPHIQL, true or false, and anything else is a start-up error naming it', () => {
    expect(loadConfig({}).graphiql).toBe(true);
    expect(loadConfig({ GRAPHIQL: 'false' }).graphiql).toBe(false);
    expect(loadConfig({ GRAPHIQL: 'TRUE' }).graphiql).toBe(true);
    expect(() => loadConfig({ GRAPHIQL: 'no' })).toThrow(ConfigError);
    expect(() => loadConfig({ GRAPHIQL: 'no' })).toThrow(/GRAPHIQL must be one of true, false \(got "no"\)/);
  });
});

describe("GraphiQL's three tabs on the demo data", () => {
  it('open as a query, a mutation and a subscription, each valid against the schema', () => {
    const kinds = DEFAULT_TABS.map((tab) => {
      const document = parse(tab.query);
      expect(validate(schema, document).map((e) => e.message)).toEqual([]);
      return document.definitions.map((d) => (d.kind === 'OperationDefinition' ? d.operation : d.kind));
    });
    expect(kinds).toEqual([['query'], ['mutation'], ['subscription']]);
  });

  it('run against the emulator demo data as local mode serves it: the query and mutation over HTTP, the subscription over graphql-ws', async () => {
    const stack = await startStack({ listen: true, config: { pollIntervalMs: 50 } });
    // The dashboard tab (DEFAULT_QUERY) is also run, and priced, by read-fields.test.ts and cost.test.ts.
    const [dashboard] = DEFAULT_TABS;
    expect((await stack.graphql(dashboard?.query ?? '')).errors).toBeUndefined();

    const created = expectData(
      await stack.graphql<{
        createInstance: { __typename: string; instanceId?: string; instance?: { status: string } };
      }>(CREATE_ORDER_MUTATION),
    );
    expect(created.createInstance).toMatchObject({
      __typename: 'CreateInstancePayload',
      instanceId: expect.any(String),
      instance: { status: expect.any(String) },
    });
    const params = expectData(
      await stack.graphql<{ instance: { params: unknown } | null }>(
        'query ($id: String!) { instance(workflowName: "order-fulfillment", instanceId: $id) { params } }',
        { id: created.createInstance.instanceId },
      ),
    );
    expect(params.instance?.params).toEqual({ customer: 'you@example.com' });

    const results: SubscriptionResult<{ instanceStatusChanged: { instance: { instanceId: string } } | null }>[] = [];
    const unsubscribe = wsClient(stack).subscribe<{
      instanceStatusChanged: { instance: { instanceId: string } } | null;
    }>(
      { query: WATCH_ORDER_SUBSCRIPTION },
      { next: (result) => results.push(result), error: () => undefined, complete: () => undefined },
    );
    try {
      await waitFor(() => results.length > 0, { message: 'the first event of the subscription tab' });
    } finally {
      unsubscribe();
    }
    expect(results[0]?.errors).toBeUndefined();
    expect(results[0]?.data?.instanceStatusChanged?.instance.instanceId).toBe('order-1004');
  });
});
