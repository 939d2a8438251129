import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { codedError } from '../errors/coded-error.js';

/** Whether a request body may go on to yoga, or is refused by its `Content-Length`. */
export type BodyOutcome =
  /** Within the limit, or not yet known to exceed it (chunked): yoga may read it. */
  | { readonly kind: 'within' }
  /** Over the limit: answer 413 with `error` and close the connection; the body is never read. */
  | { readonly kind: 'too-large'; readonly error: GraphQLError };

const WITHIN: BodyOutcome = { kind: 'within' };

/**
 * Holds a request body to `limit` bytes (MAX_REQUEST_BYTES): the one place that limit is checked for HTTP
 * requests (yoga's own `maxRequestBodySize` is off, src/app.ts). Nothing of a body is read here: yoga reads it
 * when it parses the request, which is after authentication (src/transport/authentication.ts), so a request that
 * is refused there costs no more than its headers (see {@link useCloseOnUnreadBody} for the rest of its body).
 *
 * - With a `Content-Length`, the body is judged by it before a byte is read: Node's parser never reads more than
 *   the declared length, so yoga then reads the request itself. This is the path of almost every request, and it
 *   stays synchronous.
 * - A chunked body (`Transfer-Encoding: chunked`, as reverse proxies and `fetch` with a stream body send it) has
 *   no length up front. It becomes a stream that counts the body as yoga pulls it: the moment it crosses the
 *   limit, `onTooLarge` answers 413 and the stream fails, without reading the rest however much more the client
 *   sends. The stream is handed to yoga as the request's `body`, where @whatwg-node/server's
 *   `normalizeNodeRequest` takes it (as it takes the body Express's parsers leave).
 */
export function holdRequestBody(
  req: IncomingMessage,
  limit: number,
  onTooLarge: (error: GraphQLError) => void,
): BodyOutcome {
  if (req.headers['transfer-encoding'] !== undefined) {
    (req as IncomingMessage & { body?: Readable }).body = countedBody(req, limit, onTooLarge);
    return WITHIN;
  }
  // Node's parser has already refused a Content-Length that is not one non-negative integer (400).
  const declared = Number(req.headers['content-length'] ?? 0);
  return declared > limit ? { kind: 'too-large', error: bodyTooLarge(limit, declared) } : WITHIN;
}

function bodyTooLarge(limit: number, declared?: number): GraphQLError {
  const size = declared === undefined ? `more than ${limit} bytes` : `${declared} bytes`;
  return codedError(`The request body is ${size}; the limit is ${limit} (MAX_REQUEST_BYTES).`, 'REQUEST_TOO_LARGE');
}

/**
 * `req`'s body as a stream that reads `req` only while it is read itself (so not at all before yoga parses the
 * request), and fails with {@link bodyTooLarge} once more than `limit` bytes came, after `onTooLarge`. When the
 * client goes away before its body ends, the stream fails too, so that nothing waits on it forever.
 */
function countedBody(req: IncomingMessage, limit: number, onTooLarge: (error: GraphQLError) => void): Readable {
  let size = 0;
  const detach = () => {
    req.off('data', onData).off('end', onEnd).off('close', onClose).off('error', onClose);
  };
  const body = new Readable({
    read: () => void req.resume(),
    destroy: (error, callback) => {
      detach();
      callback(error);
    },
  });
  const onData = (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) {
      detach();
      req.pause();
      const error = bodyTooLarge(limit);
      onTooLarge(error);
      body.destroy(error);
      return;
    }
    if (!body.push(chunk)) req.pause();
  };
  const onEnd = () => {
    detach();
    body.push(null);
  };
  // 'close' before 'end' (and the 'error' Node raises then): the client left in the middle of its body.
  const onClose = () => body.destroy(new Error('The client closed the connection before its request body ended.'));
  // Nobody may ever read the body (a request refused by an authenticator that is still awaiting when the client
  // leaves): without a listener, the failure above would be an uncaught exception. Yoga's reader still gets it.
  body.on('error', () => {});
  // Paused first: a 'data' listener would otherwise start reading at once.
  req.pause();
  req.on('data', onData).once('end', onEnd).once('close', onClose).once('error', onClose);
  return body;
}

/**
 * Closes the connection after a response that was written before its request's body had arrived in full: a
 * request refused before yoga read its body (authentication, above all). Node would otherwise keep the connection
 * for the next request and read the rest of the body first, however long the client keeps sending. With
 * `Connection: close`, Node ends the connection once the response is out, and reads no further.
 */
export function useCloseOnUnreadBody(): Plugin {
  return {
    onResponse({ serverContext, response }) {
      const { req } = serverContext as { req?: unknown };
      if (req instanceof IncomingMessage && !req.complete) response.headers.set('connection', 'close');
    },
  };
}

/** How long a connection refused in the middle of its body is kept open after the answer, at most. */
const LINGER_MS = 1000;
/** How much more of the refused body is read (and dropped) meanwhile, at most. */
const LINGER_BYTES = 1024 * 1024;

/**
 * Keeps a connection whose answer was sent before its request body ended open a little longer, reading (and
 * dropping) what the client still sends, until the client closes, {@link LINGER_BYTES} more arrived or
 * {@link LINGER_MS} passed. Node would destroy it right after the answer (`Connection: close`), and a socket closed
 * with unread data is reset: the reset reaches the client while it is still sending and discards the answer it
 * has not read yet, so it saw a reset instead of the 413 (what nginx's `lingering_close` prevents).
 */
export function lingerBeforeClose(socket: Socket): void {
  socket.destroySoon = function lingering(this: Socket) {
    this.end();
    const start = this.bytesRead;
    const check = setInterval(() => {
      if (this.bytesRead - start > LINGER_BYTES) this.destroy();
    }, 10);
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    check.unref();
    timer.unref();
    this.once('close', () => {
      clearInterval(check);
      clearTimeout(timer);
    });
  };
}
