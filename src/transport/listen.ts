import type { Server, ServerOptions } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { GraphQLError } from 'graphql';
import { codedError } from '../errors/coded-error.js';
import { answerOnSocket } from './socket-answer.js';

/**
 * How long a client may take to send its request headers, in ms: they are at most 16 KiB (Node's limit), which
 * any client sends in well under a second. Node's default (60 s) lets a client that trickles its headers hold a
 * connection, and a file descriptor, for a minute before the request even begins.
 */
const HEADERS_TIMEOUT_MS = 10_000;

/**
 * How often Node checks the connections for the two timeouts, in ms. Node's default (30 s) would let a request
 * outlive REQUEST_TIMEOUT_MS by up to half a minute; the check only visits connections with a request in progress.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/**
 * The options of every HTTP server the gateway runs (the main one and METRICS_PORT's): a request, headers and
 * body, must have arrived within `requestTimeoutMs` (REQUEST_TIMEOUT_MS), else Node answers it through the
 * server's `clientError` event and closes the connection. A client that stops sending in the middle of its body
 * is cut off then, instead of holding its connection and the request it started for as long as it likes.
 */
export function httpServerOptions(requestTimeoutMs: number): ServerOptions {
  return {
    requestTimeout: requestTimeoutMs,
    // Node refuses a headers timeout longer than the request timeout.
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeoutMs),
    connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_INTERVAL_MS, requestTimeoutMs),
  };
}

/**
 * Listens on `port` (0 picks a free one) and `host`, and resolves with the origin it got (`http://127.0.0.1:4000`,
 * IPv6 in brackets). Rejects when listening fails (the port is taken) with an error naming `variable`, the setting
 * that chose the port, and why; the system's error is its `cause`. The main server and
 * METRICS_PORT's share it.
 */
export async function listen(server: Server, port: number, host: string, variable: string): Promise<string> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const why =
      code === 'EADDRINUSE'
        ? 'the port is in use (EADDRINUSE)'
        : code === 'EACCES'
          ? 'permission denied (EACCES)'
          : message;
    throw new Error(`Cannot listen on ${host}:${port} (${variable}): ${why}`, { cause: error });
  }
  const { address, port: actual } = server.address() as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${actual}`;
}

/**
 * Answers the requests Node's HTTP parser refuses (conflicting lengths, oversized headers, a malformed request
 * line), which never reach a server's handler, nor do requests that did not arrive within REQUEST_TIMEOUT_MS:
 * Node's default answer has no body, so it would be the one answer without a code.
 */
export function answerClientErrors(server: Server, requestTimeoutMs: number): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const [status, answer] = clientErrorAnswer(error, requestTimeoutMs);
    answerOnSocket(socket, status, JSON.stringify({ errors: [answer] }));
    // Once the answer is out: a client that keeps sending (a slow body, past the deadline) is not read any further.
    socket.once('finish', () => socket.destroy());
  });
}

/** The answer to a request Node refused before the handler saw it: its status and its GraphQL error. */
function clientErrorAnswer(error: NodeJS.ErrnoException, requestTimeoutMs: number): [number, GraphQLError] {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const message = `The request did not arrive in full within ${requestTimeoutMs} ms (REQUEST_TIMEOUT_MS).`;
    return [408, codedError(message, 'REQUEST_TIMEOUT')];
  }
  if (error.code === 'HPE_HEADER_OVERFLOW')
    return [431, codedError('The request headers are too large.', 'BAD_REQUEST')];
  return [400, codedError('The request is not a well-formed HTTP/1.1 request.', 'BAD_REQUEST')];
}
