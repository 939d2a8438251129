import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { GraphQLError } from 'graphql';
import { codedError } from '../errors/coded-error.js';

/** What became of a request body held to MAX_REQUEST_BYTES. */
export type BodyOutcome =
  /** Within the limit: yoga may read it. */
  | { readonly kind: 'within' }
  /** Over the limit: answer 413 with `error` and close the connection; the rest of the body is never read. */
  | { readonly kind: 'too-large'; readonly error: GraphQLError }
  /** The client went away before its body ended: there is no one to answer. */
  | { readonly kind: 'aborted' };

const WITHIN: BodyOutcome = { kind: 'within' };

/**
 * Holds a request body to `limit` bytes (MAX_REQUEST_BYTES): the one place that limit is checked for HTTP
 * requests (yoga's own `maxRequestBodySize` is off, src/app.ts).
 *
 * - With a `Content-Length`, the body is judged by it before a byte is read: Node's parser never reads more than
 *   the declared length, so yoga then reads the request itself. This is the path of almost every request, and it
 *   stays synchronous.
 * - A chunked body (`Transfer-Encoding: chunked`, as reverse proxies and `fetch` with a stream body send it) has
 *   no length up front. It is read here and counted as it arrives; the moment it crosses the limit, it is refused
 *   without reading the rest, however much more the client sends. A body within the limit is handed to yoga as
 *   the request's `body`, where @whatwg-node/server's `normalizeNodeRequest` takes a body that was already read
 *   (as Express's body parsers leave it). Yoga would buffer the whole body anyway, so reading it first costs no
 *   memory.
 */
export function holdRequestBody(req: IncomingMessage, limit: number): BodyOutcome | Promise<BodyOutcome> {
  if (req.headers['transfer-encoding'] !== undefined) return readChunkedBody(req, limit);
  // Node's parser has already refused a Content-Length that is not one non-negative integer (400).
  const declared = Number(req.headers['content-length'] ?? 0);
  return declared > limit ? { kind: 'too-large', error: bodyTooLarge(limit, declared) } : WITHIN;
}

function bodyTooLarge(limit: number, declared?: number): GraphQLError {
  const size = declared === undefined ? `more than ${limit} bytes` : `${declared} bytes`;
  return codedError(`The request body is ${size}; the limit is ${limit} (MAX_REQUEST_BYTES).`, 'REQUEST_TOO_LARGE');
}

function readChunkedBody(req: IncomingMessage, limit: number): Promise<BodyOutcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (outcome: BodyOutcome) => {
      req.off('data', onData).off('end', onEnd).off('close', onGone).off('error', onGone);
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        finish({ kind: 'too-large', error: bodyTooLarge(limit) });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      // A stream, not a Buffer: normalizeNodeRequest ignores a `body` without own enumerable keys, which an
      // empty Buffer is, and would then read the request again, which has already ended.
      (req as IncomingMessage & { body?: Readable }).body = Readable.from([Buffer.concat(chunks, size)]);
      finish(WITHIN);
    };
    // 'close' before 'end' (and the 'error' Node raises then): the client left in the middle of its body.
    const onGone = () => finish({ kind: 'aborted' });
    req.on('data', onData).once('end', onEnd).once('close', onGone).once('error', onGone);
  });
}
