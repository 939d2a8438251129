import type { Plugin } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Authenticator } from '../../src/auth/principal.js';
import { createLogger } from '../../src/logger.js';
import { startStack, type Stack } from '../helpers/stack.js';

/**
 * A failure outside any operation (a plugin's request or response hook throws) answers 500 with the coded
 * `INTERNAL_SERVER_ERROR`, and never the error itself: @whatwg-node/server's own listener would send the error's
 * stack as the body (src/transport/node-listener.ts).
 */

const SECRET_DETAIL = 'kaboom-in-/srv/private/authenticator.js-with-detail';

/** An authenticator whose dependency fails unexpectedly (not an AuthenticationFailure). */
const brokenAuthenticator: Authenticator = {
  mode: 'api-key',
  authenticate: () => Promise.reject(new Error(SECRET_DETAIL)),
};

/** A plugin whose response hook throws for requests that carry `x-break-response`. */
const breaksResponses: Plugin = {
  onResponse({ request }) {
    if (request.headers.has('x-break-response')) throw new TypeError(SECRET_DETAIL);
  },
};

const lines: string[] = [];
let broken: Stack;
let plain: Stack;

beforeAll(async () => {
  const logger = createLogger('error', [], {
    format: 'json',
    destination: { write: (line: string) => lines.push(line) },
  });
  [broken, plain] = await Promise.all([
    startStack({ listen: true, authenticator: brokenAuthenticator, logger }),
    startStack({ listen: true, plugins: [breaksResponses], logger }),
  ]);
});
afterAll(async () => {
  await Promise.all([broken?.stop(), plain?.stop()]);
});

async function post(stack: Stack, headers: Record<string, string> = {}) {
  const response = await fetch(stack.url as string, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer some-key', ...headers },
    body: JSON.stringify({
      query: 'mutation { pauseInstance(input: { workflowName: "order-fulfillment", instanceId: "x" }) { __typename } }',
    }),
  });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

describe('a failure outside any operation', () => {
  it('an authenticator that throws unexpectedly: 500 INTERNAL_SERVER_ERROR without the error, logged, nothing ran', async () => {
    broken.resetCalls();
    const before = lines.length;
    const answer = await post(broken);
    expect(answer.status).toBe(500);
    expect(answer.type).toBe('application/json');
    expect(JSON.parse(answer.text)).toEqual({
      errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
    });
    expect(answer.text).not.toContain('kaboom');
    expect(answer.text).not.toMatch(/\bat .*\.[jt]s:\d+/);
    expect(broken.upstreamCalls()).toBe(0);
    const logged = lines.slice(before).map((line) => JSON.parse(line) as { msg: string; error?: string });
    expect(logged).toContainEqual(
      expect.objectContaining({ msg: 'a request failed outside its operation', error: `Error: ${SECRET_DETAIL}` }),
    );
  });

  it('a response hook that throws: the same 500, and the server keeps answering', async () => {
    const answer = await post(plain, { 'x-break-response': '1' });
    expect(answer.status).toBe(500);
    expect(answer.text).not.toContain('kaboom');
    expect(JSON.parse(answer.text)).toMatchObject({ errors: [{ extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
    const next = await post(plain);
    expect(next.status).toBe(200);
    expect(JSON.parse(next.text)).toMatchObject({ data: { pauseInstance: { __typename: expect.any(String) } } });
  });
});
