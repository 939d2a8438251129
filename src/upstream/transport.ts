import { request, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Method } from './classify.js';

/** Larger answers are refused rather than buffered: a full step log of 10,000 steps stays well below. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export interface Attempt {
  readonly dispatcher: Dispatcher;
  readonly method: Method;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
  readonly signal: AbortSignal | undefined;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Reads the whole body; rejects on a cut-off, a body timeout or more than {@link MAX_BODY_BYTES}. */
  readonly readBody: () => Promise<Buffer>;
}

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  readonly code = 'BODY_TOO_LARGE';
  constructor() {
    super(`response body larger than ${MAX_BODY_BYTES} bytes`);
  }
}

/** Sends one HTTP request; resolves once headers arrived. Never throws for an HTTP status. */
export async function send(attempt: Attempt): Promise<Answer> {
  const response = await request(attempt.url, {
    dispatcher: attempt.dispatcher,
    method: attempt.method,
    headers: attempt.headers,
    body: attempt.body,
    ...(attempt.signal ? { signal: attempt.signal } : {}),
    headersTimeout: attempt.headersTimeoutMs,
    bodyTimeout: attempt.bodyTimeoutMs,
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    readBody: () => readAll(response.body),
  };
}

/**
 * Collects a body through 'data' events: an async iterator costs several promises per chunk, and every
 * upstream answer passes through here.
 */
function readAll(body: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (error: unknown) => {
      body.off('data', onData);
      reject(error instanceof Error ? error : new Error(String(error)));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        body.off('data', onData);
        body.destroy();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    };
    body.on('data', onData);
    body.once('error', fail);
    body.once('end', () => resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size)));
    // A body cut off without an error (destroyed elsewhere) must not leave the read pending forever.
    body.once('close', () => fail(new Error('the response body closed before its end')));
  });
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
