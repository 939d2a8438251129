/**
 * The local Cloudflare Workflows API: a node:http server on loopback serving `/client/v4/accounts/{id}/workflows/...`
 * with the v4 envelope, auth, optional rate limiting and fault injection, over an engine that runs real workflow code.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { EmulatorTokens } from '../config.js';
import { createAccess, type Caller } from './access.js';
import { createManualClock, createRealClock, type Clock, type ManualClock } from './clock.js';
import { seedDemoAccount } from './demo/seed.js';
import { DEMO_CLASSES } from './demo/index.js';
import { Engine } from './engine/engine.js';
import type { WorkflowClass } from './engine/model.js';
import { ApiError, CODES } from './errors.js';
import { createCreationLimiter, type CreationRateLimit } from './creation-rate.js';
import { createFaults, type FaultInjector, type FaultDecision } from './faults.js';
import { createRoutes, type HandlerOptions, type HandlerResult } from './handlers.js';
import { createRateLimiter, type RateLimiter } from './rate-limit.js';
import { createRequestLog, type RequestLog } from './request-log.js';
import { Store } from './store.js';
import { type AccountRecord, type InstanceRecord, type InstanceStatus } from './types.js';
import { accountId as checkAccountId } from './validation.js';
import type { StepDefaults } from './engine/retry.js';

/** Behaviours docs/upstream-contract.md marks uncertain. Defaults are the documented safe side (see README). */
export interface UncertainOptions {
  /** Instance list order without `direction`. @default 'desc' (newest first) */
  instanceListOrder?: 'asc' | 'desc';
  /** Short step outputs in instance details: native JSON (true) or JSON text (false). @default true */
  nativeShortOutputs?: boolean;
  /** HTTP status of a duplicate instance id. Not 409, which the SDK retries silently. @default 400 */
  duplicateInstanceStatus?: number;
  /** Batch create with ids already in use: skip them (binding behaviour) or fail the batch. @default 'skip' */
  batchDuplicates?: 'skip' | 'error';
  /** HTTP status of authentication failures (code 9106). @default 401 */
  authFailureStatus?: 401 | 403;
  /** Retention that applies to terminated instances. @default 'error' */
  terminatedRetention?: 'success' | 'error';
  /** Accept events for finished instances instead of refusing them. @default false */
  acceptEventsWhenFinished?: boolean;
  /** Default step config; production's retry delay is 10 s, the local engine's 1 s. @default production */
  stepDefaults?: StepDefaults;
}

export interface EmulatorLimits {
  /**
   * Instances of one account holding a concurrency slot at once; `waiting` and `paused` instances hold none.
   * Beyond it instances stay `queued`. A workflow's `concurrency.limit` may not exceed it. @default 50000
   */
  accountConcurrency?: number;
  /** Steps (`do` and `waitForEvent`) per instance when the workflow sets no `limits.steps`. @default 10000 */
  stepsPerInstance?: number;
  /** Bytes of streamed (ReadableStream) step output one instance may store. @default 1 GiB */
  instanceStorageBytes?: number;
}

export interface EmulatorOptions {
  /** @default 0 (ephemeral) */
  port?: number;
  /** @default 127.0.0.1 */
  host?: string;
  /**
   * A token (or legacy key) accepted for every account, writes included. When neither this nor `tokens` is set,
   * any token is accepted.
   */
  apiToken?: string;
  /**
   * Tokens (or legacy keys) accepted besides `apiToken`, each confined to its `accounts` (other accounts: 403,
   * code 10000) and read-only unless `write` (a POST, PUT, PATCH or DELETE: 403, code 10000).
   */
  tokens?: EmulatorTokens;
  /** Emulated seconds per real second. @default 1 */
  timeScale?: number;
  /** `manual`: time moves only through `emulator.clock.advance(ms)`. @default 'real' */
  clock?: 'real' | 'manual';
  /** Seed the demo workflows into every account on first access. @default true */
  seedDemoData?: boolean;
  /**
   * Opt-in 429s per token (per client address for requests without credentials): `limit` requests per
   * `windowS` seconds. When set, every response carries `Ratelimit` and `Ratelimit-Policy`, and a 429
   * carries `Retry-After` in whole seconds, rounded up.
   */
  rateLimit?: { limit: number; windowS: number };
  /** Production limits (docs/upstream-contract.md §4.4), lowered in tests to reach them cheaply. */
  limits?: EmulatorLimits;
  /**
   * Opt-in instance creation rate per second of emulated time (production: `{ perWorkflow: 100, perAccount: 300 }`).
   * Creates, batch items and restarts beyond it get 429 with `Retry-After`.
   */
  creationRateLimit?: CreationRateLimit;
  /** Latency added to every request, fixed or uniformly random. */
  latencyMs?: number | { min: number; max: number };
  /** Extra workflow classes by class name (a PUT with that class_name runs them). */
  workflows?: Record<string, WorkflowClass>;
  /** Passed to workflow classes as `env`. */
  env?: unknown;
  uncertain?: UncertainOptions;
  /** Called with errors that escape workflow code or handlers (they never crash the process). */
  onError?: (error: unknown) => void;
}

/** Test hooks into the engine. */
export interface EmulatorEngine {
  /** Account ids seen so far. */
  accounts(): string[];
  /** Creates (and seeds, if enabled) an account without an HTTP request. */
  ensureAccount(accountId: string): Promise<void>;
  /** The live record of an instance (read-only by convention). */
  instance(accountId: string, workflowName: string, instanceId: string): Readonly<InstanceRecord> | undefined;
  /**
   * Resolves with the status once the instance is in one of `statuses`; rejects after `timeoutMs` real ms
   * (default 5000) with the status it was in. Does not move a manual clock.
   */
  waitForStatus(
    accountId: string,
    workflowName: string,
    instanceId: string,
    statuses: InstanceStatus | readonly InstanceStatus[],
    options?: { timeoutMs?: number },
  ): Promise<InstanceStatus>;
  /**
   * Concurrency slots of an account: instances holding one (running, waitingForPause, rollingBack) and
   * instances `queued` for one. Waiting and paused instances hold none.
   */
  concurrency(accountId: string): { running: number; queued: number };
  /** Resolves once no workflow code is executing. */
  settle(): Promise<void>;
  registerWorkflowClass(className: string, cls: WorkflowClass): void;
}

export interface Emulator {
  /** Base URL for the SDK and our client, e.g. `http://127.0.0.1:PORT/client/v4`. */
  readonly url: string;
  readonly port: number;
  /** Closes every socket and timer. Safe to call twice. */
  stop(): Promise<void>;
  readonly clock: {
    now(): number;
    /** Manual clock only: fires everything due up to now + ms, awaiting engine progress after each timer. */
    advance(ms: number): Promise<void>;
  };
  readonly requests: RequestLog;
  readonly faults: FaultInjector;
  /**
   * With `rateLimit`: counts `requests` against `apiToken`'s current window, as if another client of the same
   * account had sent them, so that the `Ratelimit` header reports fewer left. Without `rateLimit`: nothing.
   */
  spendRateLimit(apiToken: string, requests: number): void;
  readonly engine: EmulatorEngine;
}

const BASE = '/client/v4';
const JSON_TYPE = 'application/json; charset=utf-8';
const NO_QUERY: Readonly<Record<string, string>> = Object.freeze({});
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const rateLimited = (): ApiError =>
  new ApiError(429, CODES.rateLimited, 'Rate limited. Please wait and consider throttling your request speed');

export async function createEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const uncertain = options.uncertain ?? {};
  const clock: Clock = options.clock === 'manual' ? createManualClock() : createRealClock(options.timeScale ?? 1);
  const store = new Store(clock);
  const classes = new Map<string, WorkflowClass & { graph?: unknown }>(DEMO_CLASSES);
  for (const [name, cls] of Object.entries(options.workflows ?? {})) classes.set(name, cls);
  const onError =
    options.onError ??
    ((error: unknown) =>
      process.stderr.write(`emulator: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`));
  const limits = options.limits ?? {};
  const accountConcurrencyLimit = limits.accountConcurrency ?? 50_000;
  if (!(Number.isInteger(accountConcurrencyLimit) && accountConcurrencyLimit >= 1)) {
    throw new RangeError(`limits.accountConcurrency must be a positive integer (got ${accountConcurrencyLimit})`);
  }
  const engine = new Engine({
    clock,
    store,
    classes,
    env: options.env,
    onError,
    accountConcurrencyLimit,
    ...(limits.stepsPerInstance === undefined ? {} : { defaultStepLimit: limits.stepsPerInstance }),
    ...(limits.instanceStorageBytes === undefined ? {} : { streamStorageLimitBytes: limits.instanceStorageBytes }),
    ...(uncertain.stepDefaults ? { stepDefaults: uncertain.stepDefaults } : {}),
    terminatedRetention: uncertain.terminatedRetention ?? 'error',
    acceptEventsWhenFinished: uncertain.acceptEventsWhenFinished ?? false,
  });
  const handlerOptions: HandlerOptions = {
    view: { nativeShortOutputs: uncertain.nativeShortOutputs ?? true },
    instanceListOrder: uncertain.instanceListOrder ?? 'desc',
    batchDuplicates: uncertain.batchDuplicates ?? 'skip',
    duplicateStatus: uncertain.duplicateInstanceStatus ?? 400,
    accountConcurrencyLimit,
    ...(options.creationRateLimit
      ? { creationLimiter: createCreationLimiter(options.creationRateLimit, () => clock.now()) }
      : {}),
  };
  if (handlerOptions.duplicateStatus === 409)
    onError(new Error('duplicateInstanceStatus 409 makes the SDK retry duplicate creates'));
  const router = createRoutes({ store, engine, classes, now: () => clock.now(), options: handlerOptions });
  const log = createRequestLog();
  const faults = createFaults();
  const limiter: RateLimiter | undefined = options.rateLimit ? createRateLimiter(options.rateLimit) : undefined;
  const seedDemo = options.seedDemoData ?? true;
  const seeding = new Map<string, Promise<AccountRecord>>();

  const ensureAccount = (id: string): Promise<AccountRecord> => {
    let pending = seeding.get(id);
    if (!pending) {
      const { account, created } = store.ensureAccount(id);
      pending =
        created && seedDemo
          ? seedDemoAccount(account, { store, engine, clock, classes }).then(() => account)
          : Promise.resolve(account);
      seeding.set(id, pending);
    }
    return pending;
  };

  const access = createAccess({
    ...(options.apiToken === undefined ? {} : { apiToken: options.apiToken }),
    ...(options.tokens === undefined ? {} : { tokens: options.tokens }),
    failureStatus: uncertain.authFailureStatus ?? 401,
  });

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      onError(error);
      if (!res.headersSent)
        send(res, 500, jsonPayload(envelopeError(CODES.internal, 'workflows.api.error.internal_server')), {});
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  /** Identity for rate limiting: the credential when it is valid, else the client address (as Cloudflare's per-IP limit). */
  const rateKey = (req: IncomingMessage): { key: string; caller?: Caller; authError?: ApiError } => {
    try {
      const caller = access.authenticate(req.headers);
      return { key: caller.key, caller };
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return { key: `ip:${req.socket.remoteAddress ?? 'unknown'}`, authError: error };
    }
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://emulator');
    const search = url.search.slice(1);
    const query = search === '' ? NO_QUERY : Object.freeze(Object.fromEntries(url.searchParams));
    let path = url.pathname;
    let route = 'UNMATCHED';
    let accountId: string | null = null;
    const headers: Record<string, string> = {};
    const finish = (status: number, body: unknown, decision?: FaultDecision, raw?: HandlerResult['raw']) => {
      log.record({ method, path, route, status, accountId, query, search, at: Date.now() });
      const payload = raw ? { contentType: raw.contentType, bytes: raw.body } : jsonPayload(body);
      if (decision?.after === 'truncate') return truncate(res, status, payload, headers);
      if (decision?.after === 'malformed') return malformed(res, status, payload, headers);
      send(res, status, payload, headers);
    };
    try {
      // Counted first, so every answer below (auth failures and unknown routes included) carries the headers.
      let authError: ApiError | undefined;
      let caller: Caller | undefined;
      if (limiter) {
        const identity = rateKey(req);
        authError = identity.authError;
        caller = identity.caller;
        const verdict = limiter.take(identity.key, Date.now());
        Object.assign(headers, verdict.headers);
        if (!verdict.allowed) throw rateLimited();
      }
      await delay(options.latencyMs);
      if (!path.startsWith(`${BASE}/`)) throw new ApiError(404, CODES.noRoute, 'No route for the URI.');
      let segments: string[];
      try {
        segments = path.slice(BASE.length).split('/').filter(Boolean).map(decodeURIComponent);
      } catch {
        throw new ApiError(400, CODES.validation, 'The request path has an invalid percent-encoding');
      }
      path = '/' + segments.join('/');
      if (authError) throw authError;
      caller ??= access.authenticate(req.headers);
      const found = router.find(method, segments);
      if (!found.match) {
        if (found.allowed.length > 0) {
          headers.allow = found.allowed.join(', ');
          throw new ApiError(
            405,
            CODES.methodNotAllowed,
            `Method ${method} not allowed for this route; use ${found.allowed.join(' or ')}`,
          );
        }
        throw new ApiError(404, CODES.noRoute, 'No route for the URI.');
      }
      route = found.match.route;
      const decision = faults.decide(route, `${method} ${path}`);
      if (decision) {
        await delay(decision.latencyMs);
        if (decision.before === 'reset') {
          log.record({ method, path, route, status: 0, accountId, query, search, at: Date.now() });
          const socket = req.socket as Socket & { resetAndDestroy?: () => void };
          if (socket.resetAndDestroy) socket.resetAndDestroy();
          else socket.destroy();
          return;
        }
        if (decision.before === 'error') throw new ApiError(500, CODES.internal, 'workflows.api.error.internal_server');
        if (decision.before === 'rateLimit') {
          headers['retry-after'] = '1';
          throw rateLimited();
        }
      }
      accountId = checkAccountId(found.match.params.account_id ?? '');
      // Before the body is read and the account is created: a refused request changes nothing.
      access.authorise(caller, method, accountId);
      const body = BODY_METHODS.has(method) ? await readJson(req) : undefined;
      const account = await ensureAccount(accountId);
      const { result, resultInfo, raw } = await found.match.handler({
        params: found.match.params,
        query: url.searchParams,
        body,
        account,
      });
      finish(
        200,
        { success: true, errors: [], messages: [], result, ...(resultInfo ? { result_info: resultInfo } : {}) },
        decision,
        raw,
      );
    } catch (error) {
      if (error instanceof ApiError) {
        Object.assign(headers, error.headers);
        if (error.status === 413) headers.connection = 'close';
        finish(error.status, envelopeError(error.code, error.message));
        return;
      }
      onError(error);
      finish(500, envelopeError(CODES.internal, 'workflows.api.error.internal_server'));
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}${BASE}`;

  let stopping: Promise<void> | undefined;
  const manual = clock as Partial<ManualClock>;
  return {
    url,
    port: address.port,
    stop() {
      stopping ??= (async () => {
        engine.close();
        clock.dispose();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await closed;
      })();
      return stopping;
    },
    clock: {
      now: () => clock.now(),
      advance(ms) {
        if (!manual.advance)
          return Promise.reject(new Error('clock.advance() needs an emulator created with clock: "manual"'));
        return manual.advance(ms, () => engine.settle());
      },
    },
    requests: log,
    faults,
    spendRateLimit(apiToken, requests) {
      limiter?.spend(access.authenticate({ authorization: `Bearer ${apiToken}` }).key, requests, Date.now());
    },
    engine: {
      accounts: () => store.accountIds(),
      async ensureAccount(id) {
        await ensureAccount(checkAccountId(id));
      },
      instance: (account, workflow, id) => store.account(account)?.workflows.get(workflow)?.instances.get(id),
      waitForStatus(account, workflow, id, statuses, { timeoutMs = 5000 } = {}) {
        const wanted = new Set<InstanceStatus>(typeof statuses === 'string' ? [statuses] : statuses);
        const current = () => store.account(account)?.workflows.get(workflow)?.instances.get(id);
        return new Promise<InstanceStatus>((resolve, reject) => {
          const check = (): boolean => {
            const status = current()?.status;
            if (status !== undefined && wanted.has(status)) {
              cleanup();
              resolve(status);
              return true;
            }
            return false;
          };
          const unsubscribe = engine.onChange(() => void check());
          const timer = setTimeout(() => {
            cleanup();
            const status = current()?.status;
            reject(
              new Error(
                `${workflow}/${id} did not reach ${[...wanted].join('|')} within ${timeoutMs}ms (status: ${status ?? 'missing'})`,
              ),
            );
          }, timeoutMs);
          const cleanup = () => {
            unsubscribe();
            clearTimeout(timer);
          };
          check();
        });
      },
      concurrency: (account) => engine.slotUsage(account),
      settle: () => engine.settle(),
      registerWorkflowClass: (className, cls) => engine.registerClass(className, cls),
    },
  };
}

function envelopeError(code: number, message: string) {
  return { success: false, errors: [{ code, message }], messages: [], result: null };
}

function delay(latency: number | { min: number; max: number } | undefined): Promise<void> | void {
  if (latency === undefined) return;
  const ms = typeof latency === 'number' ? latency : latency.min + Math.random() * (latency.max - latency.min);
  if (ms > 0) return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Payload {
  readonly contentType: string;
  readonly bytes: Buffer;
}

const jsonPayload = (body: unknown): Payload => ({ contentType: JSON_TYPE, bytes: Buffer.from(JSON.stringify(body)) });

function send(res: ServerResponse, status: number, payload: Payload, headers: Record<string, string>): void {
  writeHead(res, status, payload, headers);
  res.end(payload.bytes);
}

function writeHead(res: ServerResponse, status: number, payload: Payload, headers: Record<string, string>): void {
  res.writeHead(status, { ...headers, 'content-type': payload.contentType, 'content-length': payload.bytes.length });
}

function truncate(res: ServerResponse, status: number, payload: Payload, headers: Record<string, string>): void {
  writeHead(res, status, payload, headers);
  // Promise the full length, send half, then drop the connection: the client sees a short body.
  res.write(payload.bytes.subarray(0, Math.floor(payload.bytes.length / 2)), () => res.destroy());
}

function malformed(res: ServerResponse, status: number, payload: Payload, headers: Record<string, string>): void {
  // A complete HTTP response whose body is cut in half: for JSON a parser error, not a network error.
  const cut = payload.bytes.subarray(0, Math.max(1, Math.floor(payload.bytes.length / 2)));
  res.writeHead(status, { ...headers, 'content-type': payload.contentType, 'content-length': cut.length });
  res.end(cut);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new ApiError(
        413,
        CODES.payloadTooLarge,
        `The request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`,
      );
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(type)) {
    throw new ApiError(
      400,
      CODES.validation,
      `Content-Type must be application/json (got ${type === '' ? 'none' : JSON.stringify(type.slice(0, 100))})`,
    );
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(
      400,
      CODES.validation,
      `The request body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
