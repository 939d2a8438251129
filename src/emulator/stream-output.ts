/**
 * `step.do` results that are a `ReadableStream<Uint8Array>` (docs/upstream-contract.md §3.4 and §6): the bytes
 * are stored whole, the instance log shows a preview, and the `step` endpoint serves them raw as
 * `application/octet-stream`.
 */
import { NonRetryableError } from './engine/model.js';

const PREVIEW_CHARS = 1024;
const TRUNCATED = '[truncated output]';

/** The stored bytes of a streamed step result. Immutable; each read gets a fresh stream. */
export class StreamOutput {
  private cachedPreview: string | undefined;

  constructor(readonly bytes: Buffer) {}

  get byteLength(): number {
    return this.bytes.length;
  }

  /** A new, unlocked stream over the stored bytes: what `step.do` resolves with, first time and on replay. */
  toStream(): ReadableStream<Uint8Array> {
    const bytes = this.bytes;
    return new ReadableStream<Uint8Array>({
      start(controller) {
        if (bytes.length > 0) controller.enqueue(new Uint8Array(bytes));
        controller.close();
      },
    });
  }

  /**
   * The log's preview, as the local engine builds it: the UTF-8 text cut at 1024 characters plus
   * `[truncated output]`, or `[ReadableStream (binary): N bytes]` when the bytes are not valid UTF-8.
   */
  preview(): string {
    this.cachedPreview ??= buildPreview(this.bytes);
    return this.cachedPreview;
  }
}

function buildPreview(bytes: Buffer): string {
  // A code point takes at most 4 bytes, so this many bytes always cover PREVIEW_CHARS characters.
  const head = bytes.subarray(0, PREVIEW_CHARS * 4);
  const cut = bytes.length > head.length;
  let text: string;
  try {
    // `stream: true` tolerates a code point split at the cut; everything before it must be valid.
    text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: cut });
  } catch {
    return `[ReadableStream (binary): ${bytes.length} bytes]`;
  }
  return text.length > PREVIEW_CHARS || cut ? text.slice(0, PREVIEW_CHARS) + TRUNCATED : text;
}

export function isReadableStream(value: unknown): value is ReadableStream<unknown> {
  return value instanceof ReadableStream;
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk) && !(chunk instanceof DataView))
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new NonRetryableError(
    'Step returned a ReadableStream with unsupported chunk type. Only ArrayBuffer and TypedArray chunks are supported.',
    'UnsupportedStreamChunkError',
  );
}

/**
 * Reads a step's stream to the end. Fails without retry when the stream is locked, yields something other
 * than bytes, or would take the instance's streamed output past `budget.limitBytes` (of which
 * `budget.remainingBytes` are left); a read error fails the attempt (retried like any failure).
 * `signal` cancels the read when the attempt times out or is stopped.
 */
export async function readStepStream(
  stream: ReadableStream<unknown>,
  budget: { readonly remainingBytes: number; readonly limitBytes: number },
  signal?: AbortSignal,
): Promise<StreamOutput> {
  if (stream.locked) {
    throw new NonRetryableError(
      'Step returned a ReadableStream that is already locked or otherwise unreadable. Return a fresh, unlocked ReadableStream from step.do().',
      'InvalidStepReadableStreamError',
    );
  }
  const reader = stream.getReader();
  const onAbort = () => void reader.cancel(new Error('step attempt stopped')).catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  let done = false;
  try {
    for (;;) {
      let result: Awaited<ReturnType<typeof reader.read>>;
      try {
        result = await reader.read();
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw Object.assign(new Error(`Failed to read from step ReadableStream output. ${reason}`), {
          name: 'InvalidStepReadableStreamError',
        });
      }
      if (result.done) {
        done = true;
        break;
      }
      const bytes = toBytes(result.value);
      total += bytes.byteLength;
      if (total > budget.remainingBytes) {
        throw new NonRetryableError(
          `The instance has exceeded the ${formatBytes(budget.limitBytes)} storage limit`,
          'StreamOutputStorageLimitError',
        );
      }
      // Copy: the producer may reuse its buffer after enqueueing it.
      if (bytes.byteLength > 0) chunks.push(Uint8Array.prototype.slice.call(bytes));
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!done) await reader.cancel(new Error('stream output consumption stopped before completion')).catch(() => {});
    reader.releaseLock();
  }
  return new StreamOutput(Buffer.concat(chunks, total));
}

function formatBytes(bytes: number): string {
  const gib = bytes / 1024 ** 3;
  if (Number.isInteger(gib)) return `${gib}GiB`;
  const mib = bytes / 1024 ** 2;
  return Number.isInteger(mib) ? `${mib}MiB` : `${bytes}-byte`;
}
