/**
 * One function per REST endpoint of docs/upstream-contract.md §2. Handlers validate, call the store or engine, and
 * render.
 */
import { randomId } from './ids.js';
import { ApiError, badRequest, CODES } from './errors.js';
import { EngineError, type Engine } from './engine/engine.js';
import { statusesAllowing } from './engine/transitions.js';
import type { WorkflowClass } from './engine/model.js';
import type { Store } from './store.js';
import type { AccountRecord, InstanceRecord, InstanceStatus, RetentionMs, WorkflowRecord } from './types.js';
import * as v from './validation.js';
import {
  createdView,
  detailsView,
  retentionView,
  stepOutputView,
  summaryView,
  versionView,
  workflowUpsertView,
  workflowView,
  type ViewOptions,
} from './views.js';
import { Router } from './router.js';
import type { CreationLimiter } from './creation-rate.js';
import { StreamOutput } from './stream-output.js';

export interface RequestContext {
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  /** Parsed JSON body; undefined when the request had none. */
  readonly body: unknown;
  readonly account: AccountRecord;
}

export interface HandlerResult {
  result: unknown;
  resultInfo?: Record<string, unknown>;
  /** Sent as is, without the envelope (a streamed step output). */
  raw?: { contentType: string; body: Buffer };
}

export type Handler = (ctx: RequestContext) => HandlerResult | Promise<HandlerResult>;

export interface HandlerOptions {
  view: ViewOptions;
  /** Default order of the instance list. @default 'desc' (newest first) */
  instanceListOrder: 'asc' | 'desc';
  /** Batch create: skip ids already in use (as the binding does) or fail the whole batch. @default 'skip' */
  batchDuplicates: 'skip' | 'error';
  /** HTTP status of a duplicate instance id (never 409: the SDK retries it). @default 400 */
  duplicateStatus: number;
  /** Account-wide limit a workflow's `concurrency.limit` may not exceed. @default 50000 */
  accountConcurrencyLimit: number;
  /** Opt-in creation rate; creates, batch items and restarts count. */
  creationLimiter?: CreationLimiter;
}

const PER_PAGE_MAX = 100;
/** The statuses batch terminate and the terminate job act on (and the job's `status` filter accepts). */
const TERMINABLE = statusesAllowing('terminate');

interface Cursor {
  q: number;
  s: number;
}

const encodeCursor = (instance: InstanceRecord): string =>
  Buffer.from(JSON.stringify({ q: instance.queued, s: instance.seq } satisfies Cursor)).toString('base64url');

function decodeCursor(raw: string): Cursor {
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as unknown;
    if (v.isObject(value) && typeof value.q === 'number' && typeof value.s === 'number')
      return { q: value.q, s: value.s };
  } catch {
    // fall through to the error below
  }
  throw badRequest('cursor is not a cursor this API issued');
}

function pageInfo(page: number, perPage: number, count: number, total: number) {
  return { page, per_page: perPage, count, total_count: total, total_pages: Math.ceil(total / perPage) };
}

function paginate<T>(items: readonly T[], query: URLSearchParams, defaultPerPage: number) {
  const page = v.queryInt(query.get('page'), 'page', 1, Number.MAX_SAFE_INTEGER);
  const perPage = v.queryInt(query.get('per_page'), 'per_page', defaultPerPage, PER_PAGE_MAX);
  const rows = items.slice((page - 1) * perPage, page * perPage);
  return { rows, resultInfo: pageInfo(page, perPage, rows.length, items.length) };
}

function mapEngineError(error: unknown, options: HandlerOptions): never {
  if (error instanceof EngineError) {
    switch (error.reason) {
      case 'already_exists':
        throw new ApiError(
          options.duplicateStatus,
          CODES.alreadyExists,
          `workflows.api.error.instance.already_exists: ${error.message}`,
        );
      default:
        throw new ApiError(400, CODES.invalidTransition, error.message);
    }
  }
  throw error;
}

interface Deps {
  store: Store;
  engine: Engine;
  classes: Map<string, WorkflowClass & { graph?: unknown }>;
  now(): number;
  options: HandlerOptions;
}

/** Builds the router with every endpoint. */
export function createRoutes(deps: Deps): Router<Handler> {
  const { store, engine, options } = deps;

  const workflowOf = (ctx: RequestContext): WorkflowRecord => {
    const name = v.workflowName(ctx.params.workflow_name!);
    const workflow = ctx.account.workflows.get(name);
    if (!workflow)
      throw new ApiError(
        404,
        CODES.workflowNotFound,
        `workflows.api.error.workflow.not_found: no workflow named "${name}"`,
      );
    return workflow;
  };

  const instanceOf = (ctx: RequestContext): { workflow: WorkflowRecord; instance: InstanceRecord } => {
    const workflow = workflowOf(ctx);
    const id = v.instanceIdInPath(ctx.params.instance_id!);
    const instance = workflow.instances.get(id);
    if (!instance || engine.isExpired(instance)) {
      if (instance) engine.sweep(workflow);
      throw new ApiError(
        404,
        CODES.instanceNotFound,
        `workflows.api.error.instance.not_found: no instance "${id}" in workflow "${workflow.name}"`,
      );
    }
    return { workflow, instance };
  };

  const versionOf = (ctx: RequestContext) => {
    const workflow = workflowOf(ctx);
    const id = v.versionId(ctx.params.version_id!);
    const version = store.versionOf(workflow, id);
    if (!version)
      throw new ApiError(
        404,
        CODES.versionNotFound,
        `workflows.api.error.version.not_found: no version "${id}" of workflow "${workflow.name}"`,
      );
    return { workflow, version };
  };

  const graphOf = (className: string): unknown => deps.classes.get(className)?.graph ?? null;

  const parseCreate = (raw: unknown, what: string) => {
    const body = raw === undefined ? {} : v.object(raw, what);
    const id = body.instance_id === undefined ? randomId() : v.newInstanceId(body.instance_id);
    const params = body.params === undefined ? {} : body.params;
    v.checkPayloadSize(params, `${what}.params`);
    const retention: RetentionMs | undefined = v.retention(body.instance_retention, `${what}.instance_retention`);
    const hint = body.location_hint;
    if (hint !== undefined && (typeof hint !== 'string' || !v.LOCATION_HINTS.has(hint))) {
      throw badRequest(`${what}.location_hint must be one of ${[...v.LOCATION_HINTS].join(', ')}`);
    }
    return { id, params, ...(retention ? { retention } : {}) };
  };

  const idList = (value: unknown, what: string): string[] => {
    if (!Array.isArray(value) || value.length < 1 || value.length > 100)
      throw badRequest(`${what} must be an array of 1 to 100 instance ids`);
    return value.map((id, i) => {
      if (typeof id !== 'string') throw badRequest(`${what}[${i}] must be a string`);
      return v.instanceIdInPath(id);
    });
  };

  const router = new Router<Handler>();
  const base = '/accounts/{account_id}/workflows';

  router.add('GET', base, (ctx) => {
    const search = ctx.query.get('search');
    if (search !== null && (search.length < 1 || search.length > 64))
      throw badRequest('search must be 1 to 64 characters');
    const needle = search?.toLowerCase();
    const all = [...ctx.account.workflows.values()]
      .filter((w) => needle === undefined || w.name.toLowerCase().includes(needle))
      .sort((a, b) => a.name.localeCompare(b.name));
    const { rows, resultInfo } = paginate(all, ctx.query, 10);
    const now = deps.now();
    return { result: rows.map((w) => workflowView(w, now)), resultInfo };
  });

  router.add('GET', `${base}/settings`, (ctx) => ({ result: settingsView(ctx.account) }));
  router.add('PATCH', `${base}/settings`, (ctx) => {
    const body = v.object(ctx.body, 'The request body');
    const unknown = Object.keys(body).filter((key) => key !== 'default_retention');
    if (unknown.length > 0)
      throw badRequest(
        `The settings have no field ${unknown.map((k) => JSON.stringify(k)).join(', ')}; only default_retention can be changed`,
      );
    const retention = v.retention(body.default_retention, 'default_retention');
    if (retention) ctx.account.settings.defaultRetention = { ...ctx.account.settings.defaultRetention, ...retention };
    return { result: settingsView(ctx.account) };
  });

  router.add('GET', `${base}/{workflow_name}`, (ctx) => ({ result: workflowView(workflowOf(ctx), deps.now()) }));

  router.add('PUT', `${base}/{workflow_name}`, (ctx) => {
    const name = v.workflowName(ctx.params.workflow_name!);
    const body = v.object(ctx.body, 'The request body');
    const className = v.requiredString(body, 'class_name', 1, 255);
    const scriptName = v.requiredString(body, 'script_name', 1, 255);
    let concurrency: { limit?: number } | undefined;
    if (body.concurrency !== undefined) {
      const c = v.object(body.concurrency, 'concurrency');
      concurrency =
        c.limit === undefined
          ? {}
          : { limit: v.positiveInt(c.limit, 'concurrency.limit', options.accountConcurrencyLimit) };
    }
    let limits: { steps?: number } | undefined;
    if (body.limits !== undefined) {
      const l = v.object(body.limits, 'limits');
      limits = l.steps === undefined ? {} : { steps: v.positiveInt(l.steps, 'limits.steps', 25_000) };
    }
    const defaultRetention = v.retention(body.default_retention, 'default_retention');
    const schedules = v.schedules(body.schedules);
    const workflow = store.upsertWorkflow(ctx.account, name, {
      className,
      scriptName,
      ...(concurrency ? { concurrency } : {}),
      ...(limits ? { limits } : {}),
      ...(defaultRetention ? { defaultRetention } : {}),
      ...(schedules ? { schedules } : {}),
    });
    engine.schedule(workflow);
    // A raised concurrency limit frees slots for queued instances right away.
    engine.grantSlots(ctx.account.id);
    return { result: workflowUpsertView(workflow, store.currentVersion(workflow)) };
  });

  router.add('DELETE', `${base}/{workflow_name}`, (ctx) => {
    engine.deleteWorkflow(ctx.account, workflowOf(ctx));
    return { result: { status: 'ok', success: true } };
  });

  router.add('GET', `${base}/{workflow_name}/versions`, (ctx) => {
    const workflow = workflowOf(ctx);
    const { rows, resultInfo } = paginate([...workflow.versions].reverse(), ctx.query, 50);
    return { result: rows.map((version) => versionView(version, graphOf(version.className) !== null)), resultInfo };
  });

  router.add('GET', `${base}/{workflow_name}/versions/{version_id}`, (ctx) => {
    const { version } = versionOf(ctx);
    return { result: versionView(version, graphOf(version.className) !== null) };
  });

  const graphResult = (ctx: RequestContext, field: 'graph' | 'dag') => {
    const { version } = versionOf(ctx);
    const { id, workflow_id, class_name, created_on, modified_on } = versionView(version, false) as Record<
      string,
      unknown
    >;
    return { result: { id, workflow_id, class_name, created_on, modified_on, [field]: graphOf(version.className) } };
  };
  router.add('GET', `${base}/{workflow_name}/versions/{version_id}/graph`, (ctx) => graphResult(ctx, 'graph'));
  router.add('GET', `${base}/{workflow_name}/versions/{version_id}/dag`, (ctx) => graphResult(ctx, 'dag'));

  router.add('GET', `${base}/{workflow_name}/instances`, (ctx) => {
    const workflow = workflowOf(ctx);
    engine.sweep(workflow);
    const q = ctx.query;
    const status = v.queryStatus(q.get('status'));
    const from = v.queryDate(q.get('date_start'), 'date_start');
    const to = v.queryDate(q.get('date_end'), 'date_end');
    const cursorRaw = q.get('cursor');
    const cursor = cursorRaw === null || cursorRaw === '' ? undefined : decodeCursor(cursorRaw);
    const direction = v.oneOf(q.get('direction'), 'direction', ['asc', 'desc'] as const, options.instanceListOrder);
    const page = v.queryInt(q.get('page'), 'page', 1, Number.MAX_SAFE_INTEGER);
    const perPage = v.queryInt(q.get('per_page'), 'per_page', 50, PER_PAGE_MAX);
    const sign = direction === 'asc' ? 1 : -1;
    const all = [...workflow.instances.values()]
      .filter(
        (i) =>
          (status === undefined || i.status === status) &&
          (from === undefined || i.queued >= from) &&
          (to === undefined || i.queued <= to),
      )
      .sort((a, b) => sign * (a.queued - b.queued || a.seq - b.seq));
    let start = 0;
    if (cursor) {
      const after = all.findIndex((i) => sign * (i.queued - cursor.q || i.seq - cursor.s) > 0);
      start = after < 0 ? all.length : after;
    }
    // With a cursor, `page` counts pages after it: the SDK's auto-pagination adds page=2, 3… next to a cursor.
    const offset = start + (page - 1) * perPage;
    const rows = all.slice(offset, offset + perPage);
    const resultInfo: Record<string, unknown> = pageInfo(page, perPage, rows.length, all.length);
    const last = rows.at(-1);
    if (last && offset + perPage < all.length) resultInfo.cursor = encodeCursor(last);
    return { result: rows.map(summaryView), resultInfo };
  });

  router.add('POST', `${base}/{workflow_name}/instances`, (ctx) => {
    const workflow = workflowOf(ctx);
    const input = parseCreate(ctx.body, 'The request body');
    options.creationLimiter?.take(ctx.account.id, workflow.name, 1);
    try {
      return { result: createdView(engine.create(workflow, { ...input, trigger: 'api' })) };
    } catch (error) {
      mapEngineError(error, options);
    }
  });

  router.add('POST', `${base}/{workflow_name}/instances/batch`, (ctx) => {
    const workflow = workflowOf(ctx);
    if (!Array.isArray(ctx.body) || ctx.body.length < 1 || ctx.body.length > 100) {
      throw badRequest('The request body must be a JSON array of 1 to 100 instance definitions');
    }
    const inputs = ctx.body.map((item, i) => parseCreate(item, `[${i}]`));
    engine.sweep(workflow);
    const seen = new Set<string>();
    for (const input of inputs) {
      if ((workflow.instances.has(input.id) || seen.has(input.id)) && options.batchDuplicates === 'error') {
        throw new ApiError(
          options.duplicateStatus,
          CODES.alreadyExists,
          `workflows.api.error.instance.already_exists: instance "${input.id}" already exists`,
        );
      }
      seen.add(input.id);
    }
    const fresh = new Set(inputs.map((input) => input.id).filter((id) => !workflow.instances.has(id)));
    options.creationLimiter?.take(ctx.account.id, workflow.name, fresh.size);
    const created: InstanceRecord[] = [];
    for (const input of inputs) {
      if (workflow.instances.has(input.id)) continue;
      created.push(engine.create(workflow, { ...input, trigger: 'api' }));
    }
    return { result: created.map(createdView) };
  });

  router.add('POST', `${base}/{workflow_name}/instances/batch/delete`, (ctx) => {
    const workflow = workflowOf(ctx);
    const ids = idList(v.object(ctx.body, 'The request body').instances, 'instances');
    const deleted: { id: string }[] = [];
    const errors: { id: string; code: number; message: string }[] = [];
    const gone = new Set<string>();
    for (const id of ids) {
      const instance = workflow.instances.get(id);
      if (instance) {
        engine.deleteInstance(workflow, instance);
        gone.add(id);
      }
      if (gone.has(id)) deleted.push({ id });
      else errors.push({ id, code: CODES.instanceNotFound, message: 'workflows.api.error.instance.not_found' });
    }
    return { result: { deleted, errors } };
  });

  router.add('POST', `${base}/{workflow_name}/instances/batch/terminate`, (ctx) => {
    const workflow = workflowOf(ctx);
    let terminated = 0;
    for (const id of new Set(idList(ctx.body, 'The request body'))) {
      const instance = workflow.instances.get(id);
      if (instance && TERMINABLE.includes(instance.status)) {
        engine.terminate(instance);
        terminated++;
      }
    }
    return { result: { instancesTerminated: terminated, status: 'ok' } };
  });

  router.add('PUT', `${base}/{workflow_name}/instances/terminate`, (ctx) => {
    const workflow = workflowOf(ctx);
    const raw = ctx.query.get('status');
    const only = raw === null ? undefined : v.oneOf(raw, 'status', TERMINABLE, 'queued');
    // The job runs to completion before the answer, so GET below always finds it finished.
    for (const instance of [...workflow.instances.values()]) {
      if (TERMINABLE.includes(instance.status) && (only === undefined || instance.status === only))
        engine.terminate(instance);
    }
    return { result: { status: 'ok' } };
  });

  router.add('GET', `${base}/{workflow_name}/instances/terminate`, (ctx) => {
    workflowOf(ctx);
    return { result: { status: 'not_running' } };
  });

  router.add('GET', `${base}/{workflow_name}/instances/{instance_id}`, (ctx) => {
    const { instance } = instanceOf(ctx);
    const simple = v.oneOf(ctx.query.get('simple'), 'simple', ['true', 'false'] as const, 'false') === 'true';
    const order = v.oneOf(ctx.query.get('order'), 'order', ['asc', 'desc'] as const, 'asc');
    return { result: detailsView(instance, { simple, order }, options.view) };
  });

  router.add('DELETE', `${base}/{workflow_name}/instances/{instance_id}`, (ctx) => {
    const { workflow, instance } = instanceOf(ctx);
    engine.deleteInstance(workflow, instance);
    return { result: { instanceId: instance.id, timestamp: new Date(deps.now()).toISOString() } };
  });

  router.add('GET', `${base}/{workflow_name}/instances/{instance_id}/step`, (ctx) => {
    const { instance } = instanceOf(ctx);
    const name = ctx.query.get('name');
    if (name === null || name.length === 0 || name.length > 300)
      throw badRequest('name is required: the logged step name including its counter suffix, e.g. "charge-1"');
    const type = ctx.query.get('type');
    if (type !== 'step' && type !== 'waitForEvent')
      throw badRequest('type is required and must be "step" or "waitForEvent"');
    const attemptRaw = ctx.query.get('attempt');
    const attempt = attemptRaw === null ? undefined : v.queryInt(attemptRaw, 'attempt', 1, 10_001);
    const step = instance.steps.find((s) => s.type === type && s.name === name);
    const view = step && stepOutputView(step, attempt);
    if (!view) {
      throw new ApiError(
        404,
        CODES.stepNotFound,
        `workflows.api.error.step.not_found: no ${type} named "${name}"${attempt ? ` with attempt ${attempt}` : ''}`,
      );
    }
    // Streamed outputs are served as the bytes themselves, without an envelope (docs/upstream-contract.md §3.4).
    if (view.output instanceof StreamOutput)
      return { result: null, raw: { contentType: 'application/octet-stream', body: view.output.bytes } };
    return { result: view };
  });

  router.add('PATCH', `${base}/{workflow_name}/instances/{instance_id}/status`, (ctx) => {
    const { instance } = instanceOf(ctx);
    const body = v.object(ctx.body, 'The request body');
    const action = body.status;
    if (action !== 'pause' && action !== 'resume' && action !== 'terminate' && action !== 'restart') {
      throw badRequest('status must be one of pause, resume, terminate, restart');
    }
    if (body.rollback !== undefined && (action !== 'terminate' || typeof body.rollback !== 'boolean')) {
      throw badRequest('rollback is only allowed with status "terminate" and must be a boolean');
    }
    if (body.from !== undefined && action !== 'restart') throw badRequest('from is only allowed with status "restart"');
    const from = action === 'restart' && body.from !== undefined ? parseFrom(body.from) : undefined;
    if (action === 'restart') options.creationLimiter?.take(ctx.account.id, instance.workflowName, 1);
    let status: InstanceStatus;
    try {
      if (action === 'pause') status = engine.pause(instance);
      else if (action === 'resume') status = engine.resume(instance);
      else if (action === 'terminate') status = engine.terminate(instance, body.rollback === true);
      else status = engine.restart(instance, from);
    } catch (error) {
      mapEngineError(error, options);
    }
    return { result: { status, timestamp: new Date(deps.now()).toISOString() } };
  });

  router.add('POST', `${base}/{workflow_name}/instances/{instance_id}/events/{event_type}`, (ctx) => {
    const { instance } = instanceOf(ctx);
    const type = v.eventType(ctx.params.event_type!);
    const payload = ctx.body === undefined ? null : ctx.body;
    v.checkPayloadSize(payload, 'The event payload');
    try {
      const timestamp = engine.sendEvent(instance, type, payload);
      return { result: { instanceId: instance.id, timestamp: new Date(timestamp).toISOString() } };
    } catch (error) {
      mapEngineError(error, options);
    }
  });

  return router;
}

function parseFrom(value: unknown): { name: string; count?: number; type?: 'do' | 'sleep' | 'waitForEvent' } {
  const from = v.object(value, 'from');
  const name = from.name;
  if (typeof name !== 'string' || name.length < 1 || name.length > 256)
    throw badRequest('from.name must be the step name without its counter suffix (1 to 256 characters)');
  const out: { name: string; count?: number; type?: 'do' | 'sleep' | 'waitForEvent' } = { name };
  if (from.count !== undefined) out.count = v.positiveInt(from.count, 'from.count');
  if (from.type !== undefined) {
    if (from.type !== 'do' && from.type !== 'sleep' && from.type !== 'waitForEvent')
      throw badRequest('from.type must be do, sleep or waitForEvent');
    out.type = from.type;
  }
  return out;
}

function settingsView(account: AccountRecord) {
  const retention = account.settings.defaultRetention;
  return retention ? { default_retention: retentionView(retention) } : {};
}
