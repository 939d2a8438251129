/**
 * The server's logger: pino, writing JSON lines (or, with `LOG_FORMAT=pretty`, readable ones) to stderr (batched
 * over a few milliseconds, written synchronously: see `stderr` below), so stdout stays free for the start-up
 * line and nothing is lost when the process exits. No transport
 * runs in a worker thread: the server is bundled by esbuild (scripts/build.mjs), which cannot bundle one.
 *
 * Secrets never reach a line. The `log` formatter censors credential-named fields (`authorization`, `token`,
 * `secret`...) at any depth, and it and the `logMethod` hook scrub every string of a line (its message, its
 * fields, an error's message and stack) before pino serialises it: the values registered with
 * {@link createLogger} (the upstream token, the JWT secret), and anything shaped like a credential a client
 * brings (an API key of this server, a JWT, the value after `Bearer`).
 */
import { pino, stdSerializers, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import type { LogFormat, LogLevel } from './config.js';

/**
 * The logger yoga and our modules share (also Yoga's `logging` option). Each method takes either a message and
 * optionally an error (`logger.error('shutdown failed', error)`), or fields and a message
 * (`logger.info({ route, status }, 'upstream answered 429')`): fields are what operators filter on, so values
 * belong there rather than inside the message.
 */
export interface Logger {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** A {@link Logger} made by {@link createLogger}: also makes children whose lines all carry `bindings`. */
export interface AppLogger extends Logger {
  /** For what ends the process: pino's `fatal` level, above `error`. */
  fatal(...args: unknown[]): void;
  child(bindings: Readonly<Record<string, unknown>>): AppLogger;
}

export interface LoggerOptions {
  /** @default json */
  readonly format?: LogFormat;
  /** Where lines go (tests capture them); default: file descriptor 2, batched over a few milliseconds. */
  readonly destination?: { write(line: string): unknown };
}

/** What replaces a secret in a line. */
export const REDACTED = '[REDACTED]';

/**
 * Fields whose value is censored whatever it holds, at any depth of a line (names compared in lower case). This is
 * the job of pino's `redact` option; its path matcher (@pinojs/redact, with wildcards for nesting) cost about 45 µs
 * per line for this list, ten times the rest of a line, while the formatter below walks every field anyway.
 */
const CENSORED_FIELDS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'token',
  'apitoken',
  'accesstoken',
  'refreshtoken',
  'jwt',
  'secret',
  'jwtsecret',
  'clientsecret',
  'password',
  'key',
  'apikey',
  'x-api-key',
]);

/**
 * Credentials recognisable by their shape, for those the server does not know in advance: its API keys (API_KEYS_FILE
 * holds only their digests; src/auth/api-keys.ts gives them the `wfgql_` prefix), JWTs (three base64url parts, the
 * first starting with `{"` encoded), and whatever follows `Bearer` (a client's own Cloudflare token).
 */
const SECRET_SHAPES: readonly [RegExp, string][] = [
  [/wfgql_[A-Za-z0-9_-]{8,}/g, REDACTED],
  [/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\b(Bearer|Basic)\s+[^\s"',;]+/gi, `$1 ${REDACTED}`],
];

/** What every string that {@link SECRET_SHAPES} could change contains. */
const MAY_HOLD_SHAPE = /wfgql_|eyJ|bearer|basic/i;

/** Secrets shorter than this are not registered: replacing a short string would garble ordinary text. */
const MIN_SECRET_LENGTH = 8;
/** How deep the formatter walks a line's fields; a deeper object is written as `[too deep]`, never unscrubbed. */
const MAX_SCRUB_DEPTH = 6;

/** Creates a string scrubber of `secrets` and {@link SECRET_SHAPES}. */
function createScrubber(secrets: readonly string[]): (text: string) => string {
  const known = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH))].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    // One test for the common case, a string with no credential shape at all (an operation line's fields).
    if (!MAY_HOLD_SHAPE.test(out)) return out;
    for (const [shape, replacement] of SECRET_SHAPES) out = out.replace(shape, replacement);
    return out;
  };
}

/**
 * `value` with every string scrubbed and errors serialised (message, stack, code, cause) and scrubbed: a copy where
 * something changes, `value` itself where nothing does (the common case: an operation line allocates no copy).
 */
function scrubValue(value: unknown, scrub: (text: string) => string, depth: number): unknown {
  if (typeof value === 'string') return scrub(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_SCRUB_DEPTH) return '[too deep]';
  if (value instanceof Error) return scrubValue(stdSerializers.err(value), scrub, depth + 1);
  if (Array.isArray(value)) {
    const items = value.map((item) => scrubValue(item, scrub, depth + 1));
    return items.every((item, i) => item === value[i]) ? value : items;
  }
  const record = value as Record<string, unknown>;
  // Anything but a plain object becomes one with its own fields (a URL's or a Map's toJSON is never reached).
  const prototype: unknown = Object.getPrototypeOf(record);
  let out: Record<string, unknown> | undefined = prototype === Object.prototype || prototype === null ? undefined : {};
  for (const key of Object.keys(record)) {
    const item = record[key];
    const scrubbed =
      CENSORED_FIELDS.has(key.toLowerCase()) && item !== undefined && item !== null
        ? REDACTED
        : scrubValue(item, scrub, depth + 1);
    if (out !== undefined) out[key] = scrubbed;
    else if (scrubbed !== item) (out = { ...record })[key] = scrubbed;
  }
  return out ?? value;
}

/**
 * Turns the arguments of a {@link Logger} call into pino's `(fields, message)`: the message-first shape of the
 * hand-written logger this one replaced (strings joined by spaces, an error put under `err`, other values under
 * `data`), and pino's own fields-first shape.
 */
function toPinoArgs(args: readonly unknown[]): [Record<string, unknown>, string | undefined] {
  const [first, ...rest] = args;
  if (first !== null && typeof first === 'object' && !(first instanceof Error) && !Array.isArray(first)) {
    const message = rest.find((a): a is string => typeof a === 'string');
    const error = rest.find((a): a is Error => a instanceof Error);
    return [
      error ? { ...(first as Record<string, unknown>), err: error } : (first as Record<string, unknown>),
      message,
    ];
  }
  const words: string[] = [];
  const fields: Record<string, unknown> = {};
  const data: unknown[] = [];
  for (const arg of args) {
    if (arg instanceof Error) {
      if (fields.err === undefined) fields.err = arg;
      else data.push(arg);
    } else if (typeof arg === 'string' || typeof arg === 'number' || typeof arg === 'boolean') words.push(String(arg));
    else if (arg !== undefined) data.push(arg);
  }
  if (data.length > 0) fields.data = data.length === 1 ? data[0] : data;
  const message = words.length > 0 ? words.join(' ') : fields.err instanceof Error ? fields.err.message : undefined;
  return [fields, message];
}

function adapt(instance: PinoLogger, scrub: (text: string) => string): AppLogger {
  const method =
    (level: 'debug' | 'info' | 'warn' | 'error' | 'fatal') =>
    (...args: unknown[]): void => {
      if (!instance.isLevelEnabled(level)) return;
      const [fields, message] = toPinoArgs(args);
      if (message === undefined) instance[level](fields);
      else instance[level](fields, message);
    };
  return {
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
    // A child's fields are serialised once, when it is made, and pino passes them through no formatter: scrubbed here.
    child: (bindings) => adapt(instance.child(scrubValue(bindings, scrub, 0) as Record<string, unknown>), scrub),
  };
}

/**
 * How long a line may wait for others before it is written. A system call here costs far more than a line: one
 * `write` of 14 operation lines to a pipe blocked the event loop for about 150 µs (11 µs a line), one of 70 lines
 * for about 230 µs (3 µs a line), measured with a reading parent process like the bench harness's.
 */
const STDERR_BATCH_MS = 50;
/** Pending text that is written at once instead of waiting: a burst of lines never holds more than this. */
const STDERR_BATCH_CHARS = 64 * 1024;

/**
 * File descriptor 2, written at most every {@link STDERR_BATCH_MS} (or when {@link STDERR_BATCH_CHARS} are
 * pending): under load the lines of dozens of operations go out in one system call, where one call per line cost
 * about a third of what metrics and logging add to an operation (`npm run bench -- s1ops`). Writes are synchronous
 * (pino's SonicBoom, which also waits out a full pipe), and the `exit` handler writes what is still pending, so a
 * line logged before `process.exit` (or an uncaught exception) is not lost; only a process killed outright loses
 * its last {@link STDERR_BATCH_MS} of lines.
 */
const stderr = (() => {
  let pending: string[] = [];
  let pendingChars = 0;
  let timer: NodeJS.Timeout | undefined;
  let sonic: ReturnType<typeof pino.destination> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    pendingChars = 0;
    sonic ??= pino.destination({ dest: 2, sync: true });
    sonic.write(text);
  };
  let hooked = false;
  return {
    write(line: string): void {
      if (!hooked) {
        hooked = true;
        process.on('exit', flush);
      }
      pending.push(line);
      pendingChars += line.length;
      if (pendingChars >= STDERR_BATCH_CHARS) flush();
      // Unref'd: pending lines never keep the process alive; the exit handler writes them.
      else timer ??= setTimeout(flush, STDERR_BATCH_MS).unref();
    },
  };
})();

/**
 * pino's `timestamp` option: `,"time":"2026-12-03T06:55:01.234Z"`, as pino's `stdTimeFunctions.isoTime` writes it,
 * with the part up to the second formatted once per second. `Date#toISOString` for every line was about 2.5 µs of
 * the ~40 µs that metrics and logs add to an operation (a CPU profile of `npm run bench -- s1ops`'s gateway);
 * this is a few string concatenations.
 */
export function isoTimeField(now: () => number = Date.now): () => string {
  let second = Number.NaN;
  let prefix = '';
  return () => {
    const ms = now();
    const start = ms - (((ms % 1000) + 1000) % 1000);
    if (start !== second) {
      second = start;
      // `YYYY-MM-DDTHH:MM:SS.`
      prefix = new Date(start).toISOString().slice(0, 20);
    }
    const millis = ms - start;
    return `,"time":"${prefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z"`;
  };
}

/**
 * Creates the server's logger at `level`. `secrets` (the upstream API token, the JWT secret) are replaced by
 * {@link REDACTED} wherever they would appear, as are credential-shaped strings.
 */
export function createLogger(level: LogLevel, secrets: readonly string[] = [], options: LoggerOptions = {}): AppLogger {
  const scrub = createScrubber(secrets);
  const target = options.destination ?? stderr;
  const destination: DestinationStream =
    options.format === 'pretty' ? prettyDestination(target) : { write: (line: string) => void target.write(line) };
  const instance = pino(
    {
      level,
      base: undefined,
      timestamp: isoTimeField(),
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => scrubValue(object, scrub, 0) as Record<string, unknown>,
      },
      // `log` has already serialised errors (with their own type) and scrubbed them; pino's default serializer
      // would serialise the result again, as an error of type `Object`.
      serializers: { err: (value: unknown) => value },
      hooks: {
        logMethod(args, write) {
          // The message (and any printf-style argument) is not part of the fields the formatter sees.
          const scrubbed = args.map((arg) => (typeof arg === 'string' ? scrub(arg) : arg));
          write.apply(this, scrubbed as Parameters<typeof write>);
        },
      },
    },
    destination,
  );
  return adapt(instance, scrub);
}

/** pino-pretty in this thread, one line per record, synchronously. */
function prettyDestination(target: { write(line: string): unknown }): DestinationStream {
  const prettify = prettyFactory({
    colorize: target === stderr && process.stderr.isTTY,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
  return { write: (line: string) => void target.write(prettify(line)) };
}
