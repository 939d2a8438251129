import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { once } from 'node:events';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import {
  InstanceStatusChangedDocument,
  InstanceUpdatedDocument,
  WorkflowInstancesChangedDocument,
} from '../generated/operations.js';
import type { Stack, Variables } from './stack.js';
import { waitFor } from './wait.js';

/** One result of a subscription as the client received it. */
export interface SubscriptionResult<T> {
  readonly data?: T | null;
  readonly errors?: readonly GraphQLFormattedError[];
}

/**
 * What the graphql-ws and graphql-sse clients have in common: `subscribe(request, sink)` returning an
 * unsubscribe function, so one collector serves both transports.
 */
export interface SubscriptionClient {
  subscribe<Data>(
    request: { query: string; variables?: Record<string, unknown> },
    sink: { next(value: SubscriptionResult<Data>): void; error(error: unknown): void; complete(): void },
  ): () => void;
}

/** A subscription whose results are collected as they arrive. */
export interface CollectedSubscription<T> {
  readonly results: SubscriptionResult<T>[];
  readonly done: boolean;
  /** What the sink's `error` received, if it did. */
  readonly error: unknown;
  unsubscribe(): void;
}

const clients: Client[] = [];

// Registered when a test file imports this helper: a client a test forgot cannot keep the process alive.
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
});

/**
 * A graphql-ws client of the stack's listening server, disposed after the test. Without `onClose` it is
 * lazy (it closes by itself, with 1000, once its last subscription completes); with it, it stays open, so a
 * test can see the close code the server sends. `connectionParams` is its `connection_init` payload, where
 * a client's credential travels (`{ authorization: 'Bearer …' }`).
 */
export function wsClient(
  stack: Pick<Stack, 'url'>,
  onClose?: (code: number, reason: string) => void,
  connectionParams?: Record<string, unknown>,
): Client {
  if (stack.url === undefined) throw new Error('wsClient needs a stack started with `listen: true`');
  const client = createClient({
    url: stack.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    ...(connectionParams === undefined ? {} : { connectionParams }),
    lazy: onClose === undefined,
    // The close reaches the test through `onClose`; by default a non-lazy client would also print it.
    onNonLazyError: () => undefined,
    on: onClose
      ? {
          closed: (event) => {
            const { code, reason } = event as { code: number; reason?: string };
            onClose(code, reason ?? '');
          },
        }
      : {},
  });
  clients.push(client);
  return client;
}

/** Subscribes with a generated document and collects what arrives. */
export function subscribe<T, V>(
  client: SubscriptionClient,
  document: TypedDocumentNode<T, V>,
  variables: Variables<V>,
): CollectedSubscription<T> {
  const results: SubscriptionResult<T>[] = [];
  let done = false;
  let error: unknown;
  const unsubscribe = client.subscribe<T>(
    { query: print(document), variables: variables as Record<string, unknown> },
    {
      next: (result) => results.push(result),
      error: (e) => {
        error = e;
        done = true;
      },
      complete: () => {
        done = true;
      },
    },
  );
  return {
    results,
    unsubscribe,
    get done() {
      return done;
    },
    get error() {
      return error;
    },
  };
}

/**
 * A subscription of each kind to something that does not exist: each must send one `null` event for `field`
 * and complete, as `instance` and `workflow` answer `null` (src/schema/subscription.ts).
 */
export const UNKNOWN_WATCHES: readonly {
  readonly what: string;
  readonly field: string;
  readonly open: (client: SubscriptionClient) => CollectedSubscription<unknown>;
}[] = [
  {
    what: 'an unknown instance',
    field: 'instanceStatusChanged',
    open: (client) =>
      subscribe(client, InstanceStatusChangedDocument, {
        workflowName: 'order-fulfillment',
        instanceId: 'no-such-instance',
      }),
  },
  {
    what: 'an instance of an unknown workflow',
    field: 'instanceUpdated',
    open: (client) => subscribe(client, InstanceUpdatedDocument, { workflowName: 'no-such-workflow', instanceId: 'x' }),
  },
  {
    what: 'an unknown workflow',
    field: 'workflowInstancesChanged',
    open: (client) => subscribe(client, WorkflowInstancesChangedDocument, { workflowName: 'no-such-workflow' }),
  },
];

/** `pick(data)` of every result, or `error: <message>` for a result without data, for readable assertions. */
export function valuesOf<T>(results: readonly SubscriptionResult<T>[], pick: (data: T) => string): string[] {
  return results.map((r) => (r.data ? pick(r.data) : `error: ${r.errors?.[0]?.message ?? 'no data and no errors'}`));
}

/** One graphql-transport-ws message as a raw socket receives it. */
export interface ProtocolMessage {
  readonly type: string;
  readonly id?: string;
  readonly payload?: unknown;
}

/**
 * A bare graphql-transport-ws socket, acknowledged, for tests that look at the protocol's messages themselves:
 * `messages` collects what arrives, `until` waits (10 s at most) for one that matches. Close it in `finally`.
 */
export async function acknowledgedSocket(url: string): Promise<{
  socket: WebSocket;
  messages: ProtocolMessage[];
  until(match: (m: ProtocolMessage) => boolean): Promise<void>;
}> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const messages: ProtocolMessage[] = [];
  socket.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString('utf8')) as ProtocolMessage));
  const until = (match: (m: ProtocolMessage) => boolean) =>
    waitFor(() => messages.some(match), { message: `a matching message; got ${JSON.stringify(messages)}` });
  await once(socket, 'open');
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await until((m) => m.type === 'connection_ack');
  return { socket, messages, until };
}
