import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';

/** What one hostile request got back, as the attacker sees it. */
export interface Answer {
  /**
   * The HTTP status; for a WebSocket case, the close code, or the HTTP status of a refused upgrade, or 0 when
   * the server answered and left the socket open.
   */
  readonly status: number;
  /** Every `extensions.code` in the answer, in order; a WebSocket case adds `close <code>` when the server closed it. */
  readonly codes: readonly string[];
  /** Everything the client received (status line, headers, body; every WebSocket message and the close reason). */
  readonly text: string;
}

export interface RawRequest {
  readonly method?: string;
  /** The request target exactly as sent. */
  readonly target: string;
  /** Sent in this order after Host; `Content-Length` is added for a body unless `framing` is `'as-given'`. */
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: string | Buffer;
  /** `'as-given'`: send no Host and no Content-Length of our own (header abuse cases bring their own). */
  readonly framing?: 'auto' | 'as-given';
}

/**
 * Sends one HTTP/1.1 request byte for byte over a fresh TCP connection (so header abuse reaches the server
 * unchanged, which fetch and node:http would refuse to send) and reads the answer until the server closes.
 */
export function rawHttp(port: number, request: RawRequest, timeoutMs = 15_000): Promise<Answer> {
  const body = typeof request.body === 'string' ? Buffer.from(request.body, 'utf8') : (request.body ?? Buffer.alloc(0));
  const lines = [`${request.method ?? 'POST'} ${request.target} HTTP/1.1`];
  if (request.framing !== 'as-given') lines.push(`Host: 127.0.0.1:${port}`);
  for (const [name, value] of request.headers ?? []) lines.push(`${name}: ${value}`);
  if (request.framing !== 'as-given' && (request.body !== undefined || request.method === 'POST'))
    lines.push(`Content-Length: ${body.length}`);
  lines.push('Connection: close', '', '');
  const head = Buffer.from(lines.join('\r\n'), 'latin1');

  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // A streamed (SSE) answer stays open: one complete event with an error is all a case needs.
      const sofar = Buffer.concat(chunks).toString('utf8');
      if (/content-type: text\/event-stream/i.test(sofar) && /\ndata:[^\n]*\n\n/.test(sofar)) socket.end();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseHttpAnswer(Buffer.concat(chunks)));
    });
    socket.write(Buffer.concat([head, body]));
  });
}

function parseHttpAnswer(raw: Buffer): Answer {
  const text = raw.toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  let body = split < 0 ? '' : text.slice(split + 4);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  if (/^transfer-encoding: chunked/im.test(head)) body = unchunk(body);
  return { status, codes: codesIn(body, /^content-type: text\/event-stream/im.test(head)), text };
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return out + rest;
    const size = parseInt(rest.slice(0, eol), 16);
    if (!Number.isFinite(size) || size === 0) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** The `extensions.code` of every error in a JSON body, or in each `data:` line of an event stream. */
export function codesIn(body: string, eventStream = false): string[] {
  const payloads = eventStream
    ? body
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trim())
    : [body];
  const codes: string[] = [];
  for (const payload of payloads) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      continue;
    }
    collectCodes(parsed, codes);
  }
  return codes;
}

function collectCodes(value: unknown, into: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) collectCodes(item, into);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  const record = value as Record<string, unknown>;
  if (Array.isArray(record['errors'])) collectCodes(record['errors'], into);
  if (Array.isArray(record['payload'])) collectCodes(record['payload'], into);
  else if (typeof record['payload'] === 'object') collectCodes(record['payload'], into);
  const extensions = record['extensions'];
  if (typeof extensions === 'object' && extensions !== null) {
    const code = (extensions as Record<string, unknown>)['code'];
    if (typeof code === 'string') into.push(code);
  }
}

/** One WebSocket conversation: the frames to send (strings as text, Buffers as binary), in order. */
export interface WsScript {
  /** `null`: ask for no subprotocol at all. @default 'graphql-transport-ws' */
  readonly subprotocol?: string | null;
  readonly headers?: Record<string, string>;
  readonly frames: readonly (string | Buffer)[];
  /** Sent once the server has acknowledged the connection (after a `connection_init` among `frames`), as a client would. */
  readonly afterAck?: readonly (string | Buffer)[];
  /**
   * Bytes written to the TCP connection as they are, after `frames`: frames no WebSocket client library builds
   * (see {@link maskedFrame}).
   */
  readonly raw?: readonly Buffer[];
  /** The conversation is over once this holds for what came back (default: an error or a close). */
  readonly doneWhen?: (messages: readonly Record<string, unknown>[]) => boolean;
}

const errorOrComplete = (messages: readonly Record<string, unknown>[]): boolean =>
  messages.some((m) => m['type'] === 'error' || m['type'] === 'complete');

/**
 * Opens a graphql-ws socket, sends the script's frames, and collects what comes back until the script is done,
 * the server closes the socket, or the deadline passes. The socket is closed by us afterwards.
 */
export function wsConversation(url: string, script: WsScript, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve) => {
    const subprotocol = script.subprotocol === undefined ? 'graphql-transport-ws' : script.subprotocol;
    const socket = new WebSocket(url, subprotocol === null ? [] : [subprotocol], {
      headers: script.headers ?? {},
      maxPayload: 64 * 1024 * 1024,
    });
    const received: string[] = [];
    const messages: Record<string, unknown>[] = [];
    let finished = false;
    /** `closed`: the server closed the socket with `status`; otherwise `status` is an HTTP status or 0. */
    const finish = (status: number, reason: string, closed: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.terminate();
      const codes = received.flatMap((text) => codesIn(text));
      if (closed) codes.push(`close ${status}`);
      resolve({ status, codes, text: [...received, reason].join('\n') });
    };
    const timer = setTimeout(() => finish(0, '', false), timeoutMs);
    socket.on('open', () => {
      for (const frame of script.frames) socket.send(frame, { binary: Buffer.isBuffer(frame) });
      // `_socket` is ws' own (undocumented) handle on the connection: the only way to send a frame it would not build.
      for (const bytes of script.raw ?? []) (socket as unknown as { _socket: Socket })._socket.write(bytes);
    });
    socket.on('message', (data: WebSocket.RawData) => {
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : String(data);
      received.push(text);
      try {
        messages.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        // Not JSON: kept in `received` for the leak check.
      }
      if (messages.at(-1)?.['type'] === 'connection_ack')
        for (const frame of script.afterAck ?? []) socket.send(frame, { binary: Buffer.isBuffer(frame) });
      if ((script.doneWhen ?? errorOrComplete)(messages)) finish(0, '', false);
    });
    socket.on('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        received.push(body);
        finish(response.statusCode ?? 0, JSON.stringify(response.headers), false);
      });
    });
    socket.on('close', (code: number, reason: Buffer) => finish(code, reason.toString('utf8'), true));
    socket.on('error', () => undefined);
  });
}

/**
 * One client-to-server WebSocket frame (RFC 6455 section 5.2) with FIN set: `flags` go into the first byte's upper
 * four bits (0x8 is FIN alone; 0xC adds RSV1, 0xA RSV2), `opcode` into its lower four (0x1 text, 0x2 binary). The
 * mask is all zero bytes, so the payload goes out as given; payloads up to 125 bytes.
 */
export function maskedFrame(flags: number, opcode: number, payload: Buffer): Buffer {
  if (payload.length > 125) throw new Error('maskedFrame builds short frames only');
  return Buffer.concat([Buffer.from([(flags << 4) | opcode, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}
