import { request, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
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
    readBody: async () => {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          response.body.destroy();
          throw new BodyTooLargeError();
        }
        chunks.push(chunk);
      }
      return Buffer.concat(chunks, size);
    },
  };
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
