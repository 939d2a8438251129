/**
 * The Workflows REST client: one typed method per endpoint, over one keep-alive undici Agent. Around each
 * call it applies, per credential: a request budget (fail fast instead of earning a 429), in-flight
 * de-duplication of identical GETs, bounded retries with backoff (reads freely, writes only when provably
 * not executed), and counters. Every failure is an `UpstreamError` subclass from `errors.ts`.
 */
import { Agent, type Dispatcher } from 'undici';
import type { UpstreamConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { RequestBudget, parseRateLimitHeader, type Budget, type BudgetFactory, type BudgetState } from './budget.js';
import { errorFromBody, errorFromResponse, errorFromTransport, type CallDescription, type Method } from './classify.js';
import { createCredential } from './credential.js';
import {
  AbortedError,
  AuthenticationError,
  BadRequestError,
  UpstreamRateLimitedError,
  UnavailableError,
  UpstreamError,
  UpstreamProtocolError,
  type CloudflareErrorEntry,
  type NotFoundResource,
  retryAfterSeconds,
} from './errors.js';
import { BATCH_SIZE, MAX_PAGE_SIZE } from './limits.js';
import { InFlight } from './inflight.js';
import {
  DEFAULT_RETRY_POLICY,
  RetryBudget,
  backoffMs,
  parseRetryAfter,
  sleep as realSleep,
  type RetryPolicy,
} from './retry.js';
import type { CallOrigin, UpstreamCallObserver, UpstreamObserver } from './observer.js';
import { StatsRecorder, type UpstreamStats } from './stats.js';
import { header, send, type Answer } from './transport.js';
import type {
  CallOptions,
  CreatedInstance,
  CreateInstanceRequest,
  Credential,
  InstanceDetails,
  InstanceSummary,
  ListInstancesQuery,
  Page,
  Priority,
  StatusChange,
  StatusChangeResult,
  StepOutput,
  Workflow,
  WorkflowsApi,
  WorkflowVersion,
  WorkflowVersionGraph,
} from './types.js';
import {
  ShapeError,
  arrayOf,
  errorEntries,
  parseCreatedInstance,
  parseEnvelope,
  parseEventTimestamp,
  parseInstanceDetails,
  parseInstanceSummary,
  parseResultInfo,
  parseStatusChangeResult,
  parseStepOutput,
  parseVersion,
  parseVersionGraph,
  parseWorkflow,
  toCreatedInstance,
  toInstanceDetails,
  toInstanceSummary,
  toPageInfo,
  toStatusChangeResult,
  toStepOutput,
  toVersion,
  toVersionGraph,
  toWireCreateBody,
  toWorkflow,
  type WireEnvelope,
} from './wire.js';

export type { UpstreamStats, StatsSnapshot } from './stats.js';
export type { Budget, BudgetFactory, BudgetState } from './budget.js';

/** One credential's budget, as {@link Upstream.budgets} lists them (for a gauge per credential key). */
export interface CredentialBudget {
  readonly credentialKey: string;
  readonly state: BudgetState;
}

export interface Upstream {
  /** The API for one credential; the same object is returned for the same (accountId, token). */
  forCredential(accountId: string, apiToken: string): WorkflowsApi;
  /** The credential from config (CLOUDFLARE_ACCOUNT_ID / CLOUDFLARE_API_TOKEN). */
  readonly default: WorkflowsApi;
  readonly stats: UpstreamStats;
  /** Budget state per credential key, for the poll loops (subscriptions) to stretch its intervals. */
  budget(credentialKey: string): BudgetState;
  /** The budgets of the credentials in use (the server's and the clients' kept ones), for metrics. */
  budgets(): CredentialBudget[];
  /**
   * `api` with its interactive requests counted as `clientKey`'s, for the fair share of the budget each client
   * gets while others wait (`CLIENT_BUDGET_SHARE`), and its calls made for `origin` (told to the observer, and
   * named in the call's log lines) while that is open. An API this module did not build is returned as it is.
   */
  forClient(api: WorkflowsApi, clientKey: string, origin?: CallOrigin): WorkflowsApi;
  /** Closes the connection pool (when we created it); later calls fail with `UnavailableError`. */
  close(): Promise<void>;
}

export interface UpstreamOptions {
  readonly logger?: Logger;
  /** Used instead of our own Agent (tests: undici `MockAgent`); not closed by `close()`. */
  readonly dispatcher?: Dispatcher;
  /** Overrides of the backoff and retry-budget constants (the retry count comes from config). */
  readonly retry?: Partial<Omit<RetryPolicy, 'maxRetries'>>;
  /** How the client waits between attempts; tests pass a recorder. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Credentials kept (with their budgets) before the least recently used is dropped. @default 1000 */
  readonly maxCredentials?: number;
  /** Told about every call, attempt and de-duplicated read (metrics, traces, per-operation logs). */
  readonly observer?: UpstreamObserver | undefined;
  /**
   * Builds each credential's request budget; default: an in-process {@link RequestBudget} of `rateLimit` per
   * `rateWindowS`. With `REDIS_URL`, src/redis/ passes one whose budget every replica shares.
   */
  readonly budgets?: BudgetFactory | undefined;
}

/** Everything one endpoint call needs: where it goes, what it sends, how its answer is read. */
type Spec<T> = {
  readonly method: Method;
  readonly route: string;
  /** Path segments after `/accounts/{account_id}/workflows`, unencoded. */
  readonly segments: readonly string[];
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: string;
  readonly notFound?: NotFoundResource;
  readonly options: CallOptions | undefined;
  readonly parse: (envelope: WireEnvelope) => T;
  /** For the step endpoint: a successful answer that is not JSON (a streamed step output). */
  readonly parseRaw?: (body: Buffer, contentType: string) => T;
};

/** `retryAfterMs`: upstream's Retry-After (or Ratelimit reset), which also paces retries of 5xx answers. */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: UpstreamError; retryAfterMs?: number | null };

interface Shared {
  readonly config: UpstreamConfig;
  readonly dispatcher: Dispatcher;
  readonly stats: StatsRecorder;
  readonly policy: RetryPolicy;
  readonly logger: Logger | undefined;
  readonly observer: UpstreamObserver | undefined;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly now: () => number;
  readonly random: () => number;
  readonly closed: () => boolean;
}

const USER_AGENT = 'workflows-graphql/0.1';
/**
 * Cron instance ids contain spaces, `*` and `/`: every segment is percent-encoded, including the
 * characters `encodeURIComponent` leaves alone (`!'()*`), so no proxy can read them as syntax.
 */
const encode = (segment: string): string =>
  encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

class WorkflowsClient implements WorkflowsApi {
  private readonly inflight = new InFlight<unknown>();
  /** Whose interactive requests these are, for fairness; set only on the views {@link forClient} makes. */
  private clientKey: string | undefined;
  /** The operation this view's calls are made for; set only on the views {@link forClient} makes. */
  private origin: CallOrigin | undefined;
  private readonly secrets: readonly string[];
  /** `{baseUrl}/accounts/{account_id}/workflows`, encoded once. */
  private readonly prefix: string;
  // Sent as they are on every request (undici does not modify them), so built once per credential.
  private readonly readHeaders: Readonly<Record<string, string>>;
  private readonly writeHeaders: Readonly<Record<string, string>>;

  constructor(
    readonly credential: Credential,
    private readonly shared: Shared,
    readonly budget: Budget,
    private readonly retryBudget: RetryBudget,
  ) {
    this.secrets = [credential.apiToken];
    this.prefix = `${shared.config.baseUrl}/accounts/${encode(credential.accountId)}/workflows`;
    this.readHeaders = Object.freeze({
      authorization: `Bearer ${credential.apiToken}`,
      accept: 'application/json',
      'user-agent': USER_AGENT,
    });
    this.writeHeaders = Object.freeze({ ...this.readHeaders, 'content-type': 'application/json' });
  }

  /**
   * This client (same budget, caches and in-flight table), charging interactive requests to `clientKey` and making
   * its calls for `origin`.
   */
  forClient(clientKey: string, origin: CallOrigin | undefined): WorkflowsClient {
    const view = Object.create(this) as WorkflowsClient;
    view.clientKey = clientKey;
    view.origin = origin;
    return view;
  }

  /** The operation a call made now is made for: this view's, while it is open. */
  private get openOrigin(): CallOrigin | undefined {
    return this.origin?.open ? this.origin : undefined;
  }

  /** `fields` of a log line about a call of this view, with the request id of the operation it is made for. */
  private logFields(fields: Record<string, unknown>): Record<string, unknown> {
    const origin = this.openOrigin;
    return origin ? { requestId: origin.requestId, ...fields } : fields;
  }

  async listWorkflows(
    query: { page?: number; perPage?: number; search?: string } = {},
    options?: CallOptions,
  ): Promise<Page<Workflow>> {
    checkPaging(query);
    return this.call({
      method: 'GET',
      route: 'GET /workflows',
      segments: [],
      query: { page: query.page, per_page: query.perPage, search: query.search },
      options,
      parse: (e) => page(e, parseWorkflow, toWorkflow),
    });
  }

  async getWorkflow(workflowName: string, options?: CallOptions): Promise<Workflow> {
    checkSegment('workflowName', workflowName);
    return this.call({
      method: 'GET',
      route: 'GET /workflows/{name}',
      segments: [workflowName],
      notFound: 'workflow',
      options,
      parse: (e) => toWorkflow(parseWorkflow(e.result, 'result')),
    });
  }

  async listVersions(
    workflowName: string,
    query: { page?: number; perPage?: number } = {},
    options?: CallOptions,
  ): Promise<Page<WorkflowVersion>> {
    checkSegment('workflowName', workflowName);
    checkPaging(query);
    return this.call({
      method: 'GET',
      route: 'GET /workflows/{name}/versions',
      segments: [workflowName, 'versions'],
      query: { page: query.page, per_page: query.perPage },
      notFound: 'workflow',
      options,
      parse: (e) => page(e, parseVersion, toVersion),
    });
  }

  async getVersion(workflowName: string, versionId: string, options?: CallOptions): Promise<WorkflowVersion> {
    checkSegment('workflowName', workflowName);
    checkSegment('versionId', versionId);
    return this.call({
      method: 'GET',
      route: 'GET /workflows/{name}/versions/{id}',
      segments: [workflowName, 'versions', versionId],
      options,
      parse: (e) => toVersion(parseVersion(e.result, 'result')),
    });
  }

  async getVersionGraph(workflowName: string, versionId: string, options?: CallOptions): Promise<WorkflowVersionGraph> {
    checkSegment('workflowName', workflowName);
    checkSegment('versionId', versionId);
    return this.call({
      method: 'GET',
      route: 'GET /workflows/{name}/versions/{id}/graph',
      segments: [workflowName, 'versions', versionId, 'graph'],
      options,
      parse: (e) => toVersionGraph(parseVersionGraph(e.result, 'result')),
    });
  }

  async listInstances(
    workflowName: string,
    query: ListInstancesQuery = {},
    options?: CallOptions,
  ): Promise<Page<InstanceSummary>> {
    checkSegment('workflowName', workflowName);
    checkPaging(query);
    if (query.page !== undefined && query.cursor !== undefined) {
      throw new BadRequestError('listInstances takes either page or cursor, not both');
    }
    return this.call({
      method: 'GET',
      route: 'GET /workflows/{name}/instances',
      segments: [workflowName, 'instances'],
      query: {
        page: query.page,
        per_page: query.perPage,
        cursor: query.cursor,
        direction: query.direction,
        status: query.status,
        date_start: isoDate('dateStart', query.dateStart),
        date_end: isoDate('dateEnd', query.dateEnd),
      },
      notFound: 'workflow',
      options,
      parse: (e) => page(e, parseInstanceSummary, (i) => toInstanceSummary(i, workflowName)),
    });
  }

  async createInstance(
    workflowName: string,
    request: CreateInstanceRequest,
    options?: CallOptions,
  ): Promise<CreatedInstance> {
    checkSegment('workflowName', workflowName);
    return this.call({
      method: 'POST',
      route: 'POST /workflows/{name}/instances',
      segments: [workflowName, 'instances'],
      body: json('request', toWireCreateBody(request)),
      notFound: 'workflow',
      options,
      parse: (e) => toCreatedInstance(parseCreatedInstance(e.result, 'result')),
    });
  }

  async createInstances(
    workflowName: string,
    requests: readonly CreateInstanceRequest[],
    options?: CallOptions,
  ): Promise<readonly CreatedInstance[]> {
    checkSegment('workflowName', workflowName);
    if (requests.length < 1 || requests.length > BATCH_SIZE) {
      throw new BadRequestError(`createInstances takes 1 to ${BATCH_SIZE} requests (got ${requests.length})`);
    }
    return this.call({
      method: 'POST',
      route: 'POST /workflows/{name}/instances/batch',
      segments: [workflowName, 'instances', 'batch'],
      // The batch endpoint takes a bare array, not an object.
      body: json('requests', requests.map(toWireCreateBody)),
      notFound: 'workflow',
      options,
      parse: (e) => arrayOf(e.result, 'result', parseCreatedInstance).map(toCreatedInstance),
    });
  }

  async getInstance(
    workflowName: string,
    instanceId: string,
    query: { simple?: boolean; order?: 'asc' | 'desc' } = {},
    options?: CallOptions,
  ): Promise<InstanceDetails> {
    checkSegment('workflowName', workflowName);
    checkSegment('instanceId', instanceId);
    const simple = query.simple === true;
    return this.call({
      method: 'GET',
      route: 'GET /workflows/{name}/instances/{id}',
      segments: [workflowName, 'instances', instanceId],
      query: { simple: simple ? 'true' : undefined, order: query.order },
      options,
      parse: (e) => toInstanceDetails(parseInstanceDetails(e.result, 'result'), { workflowName, instanceId, simple }),
    });
  }

  async getInstanceStep(
    workflowName: string,
    instanceId: string,
    query: { name: string; type: 'step' | 'waitForEvent'; attempt?: number },
    options?: CallOptions,
  ): Promise<StepOutput> {
    checkSegment('workflowName', workflowName);
    checkSegment('instanceId', instanceId);
    checkSegment('name', query.name);
    if (query.attempt !== undefined && (!Number.isSafeInteger(query.attempt) || query.attempt < 1)) {
      throw new BadRequestError(`attempt must be a positive integer (got ${query.attempt})`);
    }
    return this.call({
      method: 'GET',
      route: 'GET /workflows/{name}/instances/{id}/step',
      segments: [workflowName, 'instances', instanceId, 'step'],
      query: { name: query.name, type: query.type, attempt: query.attempt },
      options,
      parse: (e) => toStepOutput(parseStepOutput(e.result, 'result')),
      // A step that returned a ReadableStream is served as raw bytes, without an envelope.
      parseRaw: (body) => ({
        status: 'complete',
        error: null,
        output: body.toString('base64'),
        eventType: null,
        outputEncoding: 'base64',
      }),
    });
  }

  async changeInstanceStatus(
    workflowName: string,
    instanceId: string,
    change: StatusChange,
    options?: CallOptions,
  ): Promise<StatusChangeResult> {
    checkSegment('workflowName', workflowName);
    checkSegment('instanceId', instanceId);
    return this.call({
      method: 'PATCH',
      route: 'PATCH /workflows/{name}/instances/{id}/status',
      segments: [workflowName, 'instances', instanceId, 'status'],
      body: json('change', statusBody(change)),
      options,
      parse: (e) => toStatusChangeResult(parseStatusChangeResult(e.result, 'result')),
    });
  }

  async sendInstanceEvent(
    workflowName: string,
    instanceId: string,
    eventType: string,
    payload: unknown,
    options?: CallOptions,
  ): Promise<{ readonly timestamp: Date }> {
    checkSegment('workflowName', workflowName);
    checkSegment('instanceId', instanceId);
    checkSegment('eventType', eventType);
    return this.call({
      method: 'POST',
      route: 'POST /workflows/{name}/instances/{id}/events/{type}',
      segments: [workflowName, 'instances', instanceId, 'events', eventType],
      // The body is required; wrangler sends `{}` when there is no payload, and so do we.
      body: json('payload', payload === undefined ? {} : payload),
      options,
      parse: (e) => {
        const timestamp = parseEventTimestamp(e.result, 'result');
        // Older API revisions answered without a timestamp: the time we got the answer is the best we know.
        return { timestamp: timestamp ?? new Date(this.shared.now()) };
      },
    });
  }

  async deleteInstance(workflowName: string, instanceId: string, options?: CallOptions): Promise<void> {
    checkSegment('workflowName', workflowName);
    checkSegment('instanceId', instanceId);
    await this.call({
      method: 'DELETE',
      route: 'DELETE /workflows/{name}/instances/{id}',
      segments: [workflowName, 'instances', instanceId],
      options,
      parse: () => undefined,
    });
  }

  private url(spec: Spec<unknown>): string {
    let url = this.prefix;
    for (const segment of spec.segments) url += `/${encode(segment)}`;
    if (!spec.query) return url;
    let params: URLSearchParams | undefined;
    for (const key in spec.query) {
      const value = spec.query[key];
      if (value !== undefined) (params ??= new URLSearchParams()).set(key, String(value));
    }
    return params ? `${url}?${params.toString()}` : url;
  }

  private async call<T>(spec: Spec<T>): Promise<T> {
    const signal = spec.options?.signal;
    const url = this.url(spec);
    try {
      if (spec.method !== 'GET') {
        // Reads in flight may be answered from before the write (and those started while it is sent, from before
        // it lands): a read made after it must ask upstream again, not join them.
        this.inflight.detachAll();
        try {
          return await this.execute(spec, url, signal);
        } finally {
          this.inflight.detachAll();
        }
      }
      // Concurrent identical reads share one request; the key carries the credential so nothing crosses.
      const key = `${this.credential.key} ${url}`;
      return (await this.inflight.run(
        key,
        signal,
        (shared) => this.execute(spec, url, shared),
        () => {
          this.shared.stats.deduplicated();
          this.shared.observer?.deduplicated(spec.route);
        },
      )) as T;
    } catch (error) {
      if (error instanceof UpstreamError) throw error;
      if (signal?.aborted) throw new AbortedError(`${spec.route} was aborted by the caller`);
      throw error;
    }
  }

  private async execute<T>(spec: Spec<T>, url: string, signal: AbortSignal | undefined): Promise<T> {
    const priority = spec.options?.priority ?? 'interactive';
    const observed = this.shared.observer?.callStarted({
      method: spec.method,
      route: spec.route,
      priority,
      credentialKey: this.credential.key,
      origin: this.openOrigin,
    });
    if (!observed) return this.attempts(spec, url, signal, priority, undefined);
    const progress = { retries: 0, waitedMs: 0 };
    try {
      const value = await this.attempts(spec, url, signal, priority, observed, progress);
      observed.ended(progress);
      return value;
    } catch (error) {
      observed.ended({
        ...progress,
        error: error instanceof UpstreamError ? error : undefined,
        refusedByBudget: error instanceof UpstreamRateLimitedError && error.source === 'budget',
      });
      throw error;
    }
  }

  /** The attempts of one call: budget, send, retry on what is retryable. */
  private async attempts<T>(
    spec: Spec<T>,
    url: string,
    signal: AbortSignal | undefined,
    priority: Priority,
    observed: UpstreamCallObserver | undefined,
    progress = { retries: 0, waitedMs: 0 },
  ): Promise<T> {
    const { stats, policy, logger } = this.shared;
    const call: CallDescription = {
      method: spec.method,
      route: spec.route,
      notFound: spec.notFound,
      secrets: this.secrets,
      credentialSource: this.credential.source,
    };
    this.retryBudget.deposit();
    for (let attempt = 0; ; attempt++) {
      if (this.shared.closed()) throw new UnavailableError(`${spec.route}: the upstream client is closed`);
      if (signal?.aborted) throw new AbortedError(`${spec.route} was aborted by the caller`);
      const taken = this.budget.take(priority, this.clientKey);
      // Only a shared budget that has to ask Redis answers with a promise: the in-process path stays synchronous.
      const token = taken instanceof Promise ? await taken : taken;
      if (!token.ok) {
        stats.refusedByBudget();
        const what =
          token.reason === 'client-share'
            ? "this client's share of the request budget is spent while other clients wait (CLIENT_BUDGET_SHARE)"
            : `the request budget of this credential is spent (${priority} priority)`;
        throw new UpstreamRateLimitedError(
          `${spec.route}: ${what}; retry in ${retryAfterSeconds(token.retryAfterMs)} s`,
          token.retryAfterMs,
          'budget',
        );
      }
      stats.sent(spec.route, attempt > 0);
      const outcome = await this.attempt(spec, call, url, signal, attempt, observed);
      if (outcome.ok) return outcome.value;
      const { error } = outcome;
      if (!error.retryable || attempt >= policy.maxRetries) throw error;
      // Without Retry-After, a 429 still waits as long as the budget stops every request after it.
      const hinted = outcome.retryAfterMs ?? (error instanceof UpstreamRateLimitedError ? error.retryAfterMs : null);
      const wait = hinted ?? backoffMs(attempt, policy, this.shared.random);
      if (wait > policy.retryAfterCapMs) throw error;
      if (!this.retryBudget.tryWithdraw()) {
        logger?.warn(
          this.logFields({ route: spec.route, code: error.code, error: error.message }),
          'upstream retry budget spent, not retrying',
        );
        throw error;
      }
      logger?.debug(
        this.logFields({
          route: spec.route,
          waitMs: wait,
          retry: attempt + 1,
          maxRetries: policy.maxRetries,
          error: error.message,
        }),
        'retrying an upstream call',
      );
      progress.retries += 1;
      progress.waitedMs += wait;
      try {
        await this.shared.sleep(wait, signal);
      } catch {
        throw new AbortedError(`${spec.route} was aborted by the caller`);
      }
    }
  }

  private async attempt<T>(
    spec: Spec<T>,
    call: CallDescription,
    url: string,
    signal: AbortSignal | undefined,
    index: number,
    observed: UpstreamCallObserver | undefined,
  ): Promise<Outcome<T>> {
    const { config, dispatcher, stats } = this.shared;
    const baseHeaders = spec.body === undefined ? this.readHeaders : this.writeHeaders;
    const started = observed ? this.shared.now() : 0;
    // Each attempt gets its own controller, so a caller's abort reaches undici without undici's listeners
    // piling up on the caller's signal across retries. Without a caller signal there is nothing to forward.
    const controller = signal ? new AbortController() : undefined;
    const onAbort = () => controller?.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let answer: Answer;
    try {
      answer = await send({
        dispatcher,
        method: spec.method,
        url,
        headers: observed?.headers ? { ...baseHeaders, ...observed.headers } : baseHeaders,
        body: spec.body,
        signal: controller?.signal,
        headersTimeoutMs: config.headersTimeoutMs,
        bodyTimeoutMs: config.bodyTimeoutMs,
      });
    } catch (error) {
      signal?.removeEventListener('abort', onAbort);
      this.budget.settle(null);
      if (signal?.aborted) throw new AbortedError(`${spec.route} was aborted by the caller`);
      stats.answered('network');
      observed?.attemptEnded({ index, status: 'network', durationMs: this.shared.now() - started });
      return { ok: false, error: errorFromTransport(call, error) };
    }
    const retryAfterMs = this.settle(spec, answer);
    stats.answered(answer.status);
    observed?.attemptEnded({ index, status: answer.status, durationMs: this.shared.now() - started });
    let body: Buffer;
    try {
      body = await answer.readBody();
    } catch (error) {
      if (signal?.aborted) throw new AbortedError(`${spec.route} was aborted by the caller`);
      return { ok: false, error: errorFromBody(call, answer.status, error) };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return this.interpret(spec, call, answer, body, retryAfterMs);
  }

  /**
   * Tells the budget about an answer as soon as its headers arrive, before its body is read (which may take up
   * to the body timeout): upstream has counted the request and put its count in them, and a 429 stops every
   * request from now on. Returns the answer's wait hint (`Retry-After`, else a 429's `Ratelimit` reset).
   */
  private settle<T>(spec: Spec<T>, answer: Answer): number | null {
    const { status, headers } = answer;
    const rateLimit = parseRateLimitHeader(header(headers, 'ratelimit'));
    this.budget.settle(rateLimit);
    const retryAfterMs =
      parseRetryAfter(header(headers, 'retry-after'), this.shared.now()) ??
      (status === 429 && rateLimit && rateLimit.remaining === 0 ? rateLimit.resetS * 1000 : null);
    if (status === 429) {
      this.budget.refused(retryAfterMs);
      this.shared.logger?.warn(
        this.logFields({ route: spec.route, credential: this.credential.key, retryAfterMs }),
        'upstream answered 429 (rate limited)',
      );
    }
    return retryAfterMs;
  }

  private interpret<T>(
    spec: Spec<T>,
    call: CallDescription,
    answer: Answer,
    body: Buffer,
    retryAfterMs: number | null,
  ): Outcome<T> {
    const { status, headers } = answer;
    const cfRay = header(headers, 'cf-ray') ?? null;
    const contentType = header(headers, 'content-type') ?? '';
    const isJson = /\bjson\b/i.test(contentType) || contentType === '';
    const ok = status >= 200 && status < 300;

    if (ok && !isJson && spec.parseRaw) return { ok: true, value: spec.parseRaw(body, contentType) };

    let parsed: unknown;
    let parseFailed = false;
    try {
      parsed = body.length === 0 ? undefined : JSON.parse(body.toString('utf8'));
    } catch {
      parseFailed = true;
    }
    const facts = (errors: readonly CloudflareErrorEntry[] = errorEntries(parsed)) => ({
      status,
      errors,
      cfRay,
      retryAfterMs,
      fallbackRetryAfterMs: this.budget.interactiveWaitMs(),
    });
    if (!ok) return { ok: false, error: errorFromResponse(call, facts()), retryAfterMs };
    if (parseFailed || parsed === undefined) {
      const what =
        parsed === undefined && !parseFailed
          ? 'an empty body'
          : `a body that is not JSON (${contentType || 'no content type'})`;
      return {
        ok: false,
        error: new UpstreamProtocolError(`${spec.route}: upstream answered HTTP ${status} with ${what}`, {
          status,
          cfRay,
        }),
      };
    }
    try {
      const envelope = parseEnvelope(parsed);
      // Judged by `success`, not the status: upstream has answered 200 with `success: false`.
      if (!envelope.success) return { ok: false, error: errorFromResponse(call, facts(envelope.errors)), retryAfterMs };
      return { ok: true, value: spec.parse(envelope) };
    } catch (error) {
      if (!(error instanceof ShapeError)) throw error;
      return {
        ok: false,
        error: new UpstreamProtocolError(`${spec.route}: upstream answered an unexpected shape: ${error.message}`, {
          status,
          cfRay,
        }),
      };
    }
  }
}

function page<W, D>(envelope: WireEnvelope, read: (value: unknown, path: string) => W, map: (wire: W) => D): Page<D> {
  const items = arrayOf(envelope.result, 'result', read).map(map);
  return { items, info: toPageInfo(parseResultInfo(envelope.result_info, items.length)) };
}

function checkSegment(name: string, value: string): void {
  if (typeof value !== 'string' || value === '') throw new BadRequestError(`${name} must be a non-empty string`);
}

function checkPaging(query: { page?: number; perPage?: number }): void {
  for (const [name, value] of [
    ['page', query.page],
    ['perPage', query.perPage],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new BadRequestError(`${name} must be a positive integer (got ${value})`);
    }
  }
  if (query.perPage !== undefined && query.perPage > MAX_PAGE_SIZE) {
    throw new BadRequestError(`perPage must be at most ${MAX_PAGE_SIZE} (got ${query.perPage})`);
  }
}

function isoDate(name: string, value: Date | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    throw new BadRequestError(`${name} must be a valid date`);
  // UTC with a `Z`, never a local offset: what the API expects.
  return value.toISOString();
}

function json(name: string, value: unknown): string {
  try {
    const text = JSON.stringify(value);
    if (text === undefined) throw new Error('not serialisable');
    return text;
  } catch {
    throw new BadRequestError(`${name} cannot be sent: it is not JSON-serialisable`);
  }
}

function statusBody(change: StatusChange): Record<string, unknown> {
  switch (change.action) {
    case 'pause':
    case 'resume':
      return { status: change.action };
    case 'terminate':
      return change.rollback === undefined
        ? { status: 'terminate' }
        : { status: 'terminate', rollback: change.rollback };
    case 'restart':
      if (!change.from) return { status: 'restart' };
      if (change.from.name === '') throw new BadRequestError('restart from: the step name must not be empty');
      if (change.from.count !== undefined && (!Number.isSafeInteger(change.from.count) || change.from.count < 1)) {
        throw new BadRequestError(`restart from: count must be a positive integer (got ${change.from.count})`);
      }
      return { status: 'restart', from: { ...change.from } };
    default:
      throw new BadRequestError(`unknown status change ${JSON.stringify((change as { action?: unknown }).action)}`);
  }
}

/** Visible ASCII only: anything else cannot travel in a header (and must never be echoed). */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/**
 * Builds the upstream client. It owns one keep-alive Agent (unless `options.dispatcher` is given) with
 * the configured connect, headers and body timeouts; per credential it keeps a request budget of
 * `rateLimit` per `rateWindowS`, a retry budget and an in-flight table.
 */
export function createUpstream(config: UpstreamConfig, options: UpstreamOptions = {}): Upstream {
  const ownsDispatcher = options.dispatcher === undefined;
  const dispatcher =
    options.dispatcher ??
    new Agent({
      connect: { timeout: config.connectTimeoutMs },
      headersTimeout: config.headersTimeoutMs,
      bodyTimeout: config.bodyTimeoutMs,
      keepAliveTimeout: 4_000,
      connections: config.connections === 0 ? null : config.connections,
      pipelining: config.pipelining,
    });
  let closed = false;
  const now = options.now ?? Date.now;
  const stats = new StatsRecorder();
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry, maxRetries: config.maxRetries };
  const shared: Shared = {
    config,
    dispatcher,
    stats,
    policy,
    logger: options.logger,
    observer: options.observer,
    sleep: options.sleep ?? realSleep,
    now,
    random: options.random ?? Math.random,
    closed: () => closed,
  };
  const maxCredentials = options.maxCredentials ?? 1000;
  // Keyed by the credential key; Map order doubles as least-recently-used order.
  const clients = new Map<string, WorkflowsClient>();

  const budgets: BudgetFactory =
    options.budgets ?? (() => new RequestBudget(config.rateLimit, config.rateWindowS, now, config.clientBudgetShare));
  const build = (credential: Credential): WorkflowsClient =>
    new WorkflowsClient(credential, shared, budgets(credential), new RetryBudget(policy, now));
  const defaultClient = build(createCredential(config.accountId, config.apiToken));

  return {
    default: defaultClient,
    stats,
    forCredential(accountId, apiToken) {
      if (typeof accountId !== 'string' || accountId.trim() === '')
        throw new AuthenticationError('The account id must not be empty');
      if (typeof apiToken !== 'string' || !TOKEN_PATTERN.test(apiToken)) {
        throw new AuthenticationError('The API token is empty or contains characters a token cannot have');
      }
      const credential = createCredential(accountId, apiToken, 'client');
      const { key } = credential;
      if (key === defaultClient.credential.key && apiToken === config.apiToken && accountId === config.accountId)
        return defaultClient;
      const existing = clients.get(key);
      if (existing && existing.credential.apiToken === apiToken && existing.credential.accountId === accountId) {
        clients.delete(key);
        clients.set(key, existing);
        return existing;
      }
      const client = build(credential);
      clients.set(key, client);
      if (clients.size > maxCredentials) {
        const oldest = clients.keys().next().value;
        if (oldest !== undefined) clients.delete(oldest);
      }
      return client;
    },
    budget(credentialKey) {
      const client = credentialKey === defaultClient.credential.key ? defaultClient : clients.get(credentialKey);
      // A credential we have not used yet has its whole budget.
      return (client?.budget ?? new RequestBudget(config.rateLimit, config.rateWindowS, now)).state();
    },
    budgets() {
      const kept = [defaultClient, ...clients.values()];
      return kept.map((client) => ({ credentialKey: client.credential.key, state: client.budget.state() }));
    },
    forClient(api, clientKey, origin) {
      return api instanceof WorkflowsClient ? api.forClient(clientKey, origin) : api;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDispatcher) await dispatcher.close();
    },
  };
}
