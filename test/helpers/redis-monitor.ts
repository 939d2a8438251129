import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/** One command as MONITOR reports it. */
export interface MonitoredCommand {
  /** The command's name and arguments, as sent (the name in the client's case). */
  readonly args: readonly string[];
  /** `IP:PORT` of the client that sent it, or `lua` for a command a script ran. */
  readonly source: string;
}

export interface RedisMonitor {
  /** Closes the connection. Safe to call twice. */
  stop(): void;
}

/**
 * A MONITOR connection to the redis-server on `port`, on a plain socket, which calls `onCommand` for every command
 * the server runs once MONITOR is in effect, in the server's order. ioredis's `monitor()` is not used: it enters
 * monitoring mode a microtask after MONITOR's `+OK`, so monitor lines arriving in the same TCP read as that `+OK`
 * meet an empty command queue and surface as uncaught "Command queue state error"s (seen in CI while the replicas'
 * budget scripts ran). Here the `+OK` and every line after it are read in order by one parser, and the listener is
 * there from the start: no line is read before it can be told.
 */
export async function startRedisMonitor(
  port: number,
  onCommand: (command: MonitoredCommand) => void,
): Promise<RedisMonitor> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const started = readLines(socket, onCommand);
  socket.write('MONITOR\r\n');
  await started;
  return { stop: () => void socket.destroy() };
}

/** Resolves on MONITOR's `+OK`, then hands every later line to `onCommand`. Rejects on an error reply or an early close. */
function readLines(socket: Socket, onCommand: (command: MonitoredCommand) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    let monitoring = false;
    socket.setEncoding('utf8');
    socket.on('error', (error) => {
      if (!monitoring) reject(error);
    });
    socket.on('close', () => {
      if (!monitoring) reject(new Error('the MONITOR connection closed before Redis answered +OK'));
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (!monitoring) {
          if (line !== '+OK') return reject(new Error(`MONITOR was refused: ${line}`));
          monitoring = true;
          resolve();
          continue;
        }
        onCommand(parseMonitorLine(line));
      }
    });
  });
}

/**
 * One MONITOR line: `+1700000000.123456 [0 127.0.0.1:50001] "get" "key"` (a simple string; Redis quotes each
 * argument the way `sdscatrepr` does, so `\r\n` never occurs inside one).
 */
export function parseMonitorLine(line: string): MonitoredCommand {
  const match = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] (.*)$/.exec(line);
  if (!match) throw new Error(`not a MONITOR line: ${JSON.stringify(line)}`);
  return { source: match[1]!, args: parseQuoted(match[2]!) };
}

const ESCAPES: Readonly<Record<string, number>> = { n: 10, r: 13, t: 9, a: 7, b: 8, '"': 34, '\\': 92 };

/**
 * `"a" "b\"c" "\xc3\xa9"` → `['a', 'b"c', 'é']`. Redis escapes bytes, not characters, so an argument is gathered as
 * bytes and decoded as UTF-8 once whole.
 */
function parseQuoted(text: string): string[] {
  const args: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ') {
      i++;
      continue;
    }
    if (text[i] !== '"') throw new Error(`unquoted MONITOR argument at ${i}: ${JSON.stringify(text)}`);
    const bytes: number[] = [];
    i++;
    while (text[i] !== '"') {
      if (i >= text.length) throw new Error(`unterminated MONITOR argument: ${JSON.stringify(text)}`);
      if (text[i] !== '\\') {
        bytes.push(...Buffer.from(text[i++]!, 'utf8'));
        continue;
      }
      const escaped = text[i + 1]!;
      if (escaped === 'x') {
        bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
        i += 4;
      } else {
        bytes.push(ESCAPES[escaped] ?? escaped.charCodeAt(0));
        i += 2;
      }
    }
    args.push(Buffer.from(bytes).toString('utf8'));
    i++;
  }
  return args;
}
