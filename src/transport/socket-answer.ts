import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Answers on a raw socket, where no `ServerResponse` exists (a refused WebSocket upgrade, a request Node's HTTP
 * parser refused), with an HTTP status and an optional JSON body, and closes the connection.
 */
export function answerOnSocket(socket: Duplex, status: number, body = ''): void {
  const headers = body === '' ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${headers}Connection: close\r\n\r\n${body}`);
}
