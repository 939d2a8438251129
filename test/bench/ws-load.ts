/**
 * The subscription load process: `node --import tsx test/bench/ws-load.ts`, started by `subscribers.ts`,
 * which sends it a {@link WsLoadSpec} over IPC. Opens the connections, speaks graphql-transport-ws directly over `ws` (one small object
 * per subscription instead of a graphql-ws client per socket, so 10,000 subscriptions fit one process),
 * and timestamps every event. The orchestrator polls progress with `status` and collects `report`.
 */
import WebSocket from 'ws';
import { exitWithParent, receiveJob } from './children.js';
import { now, type WsCommand, type WsLoadSpec, type WsMessage, type WsStatus } from './ws-spec.js';

interface Sub {
  readonly key: string;
  readonly events: [number, string][];
  done: boolean;
}

const OPEN_PARALLELISM = 50;
const counters = { open: 0, acked: 0, subscribed: 0, completed: 0, errors: 0, closed: 0 };
let firstError: string | undefined;
const subs = new Map<string, Sub>();
const sockets: WebSocket[] = [];
/** With `deferSubscribe`, each acked connection's subscriptions, sent on the `subscribe` command. */
const pendingSubscribes: (() => void)[] = [];

function fail(where: string, message: string): void {
  counters.errors++;
  firstError ??= `${where}: ${message}`;
}

/** The `status` of the first root field of an event's data, if any. */
function statusOf(payload: unknown): string | undefined {
  const data = (payload as { data?: Record<string, unknown> } | null)?.data;
  const root = data ? Object.values(data)[0] : undefined;
  const status = (root as { status?: unknown } | null | undefined)?.status;
  return typeof status === 'string' ? status : undefined;
}

function onMessage(socket: WebSocket, raw: WebSocket.RawData, onAck: () => void): void {
  let message: { type?: string; id?: string; payload?: unknown };
  try {
    message = JSON.parse(raw.toString()) as typeof message;
  } catch {
    return fail('protocol', 'a message that is not JSON');
  }
  switch (message.type) {
    case 'connection_ack':
      counters.acked++;
      return onAck();
    case 'ping':
      return socket.send(JSON.stringify({ type: 'pong' }));
    case 'next': {
      const sub = message.id === undefined ? undefined : subs.get(message.id);
      const status = statusOf(message.payload);
      if (!sub) return fail('protocol', `an event for unknown subscription ${message.id}`);
      if (status === undefined)
        return fail(sub.key, `an event without status: ${JSON.stringify(message.payload).slice(0, 300)}`);
      sub.events.push([now(), status]);
      return;
    }
    case 'error':
      return fail(`subscription ${message.id}`, JSON.stringify(message.payload).slice(0, 300));
    case 'complete': {
      const sub = message.id === undefined ? undefined : subs.get(message.id);
      if (sub) sub.done = true;
      counters.completed++;
      return;
    }
    default:
      return fail('protocol', `unexpected message type ${String(message.type)}`);
  }
}

/** Opens one connection, waits for the ack, then sends its subscriptions. */
function connect(spec: WsLoadSpec, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(spec.url, 'graphql-transport-ws', { perMessageDeflate: false });
    sockets.push(socket);
    let acked = false;
    socket.on('open', () => {
      counters.open++;
      socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    });
    socket.on('message', (raw) =>
      onMessage(socket, raw, () => {
        acked = true;
        const subscribe = () => {
          for (let k = index; k < spec.subscriptions.length; k += spec.connections) {
            const target = spec.subscriptions[k];
            if (!target) continue;
            const id = String(k);
            subs.set(id, { key: target.key, events: [], done: false });
            socket.send(
              JSON.stringify({ id, type: 'subscribe', payload: { query: spec.query, variables: target.variables } }),
            );
            counters.subscribed++;
          }
        };
        if (spec.deferSubscribe) pendingSubscribes.push(subscribe);
        else subscribe();
        resolve();
      }),
    );
    socket.on('error', (error) => {
      fail(`connection ${index}`, error.message);
      if (!acked) reject(error);
    });
    socket.on('close', (code, reason) => {
      counters.closed++;
      if (code !== 1000) fail(`connection ${index}`, `closed with ${code} ${reason.toString()}`);
      if (!acked) reject(new Error(`connection ${index} closed (${code}) before the ack`));
    });
  });
}

function status(seen?: { statuses: readonly string[]; since: number }): WsStatus {
  let live = 0;
  let matching = 0;
  const wanted = new Set(seen?.statuses);
  for (const sub of subs.values()) {
    if (sub.events.length > 0) live++;
    if (seen && sub.events.some(([t, s]) => t >= seen.since && wanted.has(s))) matching++;
  }
  return { type: 'status', ...counters, live, seen: matching, ...(firstError === undefined ? {} : { firstError }) };
}

function report(): WsMessage {
  const events: Record<string, [number, string][][]> = {};
  for (const sub of subs.values()) (events[sub.key] ??= []).push(sub.events);
  return { type: 'report', events };
}

async function main(): Promise<void> {
  const send = (message: WsMessage) => process.send?.(message);
  exitWithParent(() => {
    for (const socket of sockets) socket.terminate();
  });
  process.on('message', (command: WsCommand) => {
    if (command.type === 'status') send(status(command.seen));
    else if (command.type === 'report') send(report());
    else if (command.type === 'subscribe') for (const subscribe of pendingSubscribes.splice(0)) subscribe();
  });
  const spec = await receiveJob<WsLoadSpec>();
  // A bounded number of handshakes at a time keeps the server's accept backlog from overflowing.
  let next = 0;
  const worker = async () => {
    while (next < spec.connections) await connect(spec, next++);
  };
  try {
    await Promise.all(Array.from({ length: Math.min(OPEN_PARALLELISM, spec.connections) }, worker));
  } catch (error) {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ws load failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
