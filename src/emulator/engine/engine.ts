/**
 * The workflow engine: runs instances of registered workflow classes through their lifecycle
 * (queued → running ⇄ waiting → complete/errored, with pause, resume, terminate, restart, rollback),
 * against a {@link Clock} so tests can drive time. One engine serves every account of an emulator.
 */
import type { Clock } from '../clock.js';
import type { Store } from '../store.js';
import {
  isFinal,
  type AccountRecord,
  type DoStepRecord,
  type InstanceRecord,
  type InstanceStatus,
  type RetentionMs,
  type StepRecord,
  type TriggerSource,
  type WorkflowRecord,
} from '../types.js';
import { nextCronTime } from './cron.js';
import type { EngineHost } from './host.js';
import type { WorkflowClass } from './model.js';
import { PRODUCTION_STEP_DEFAULTS, resolveStepConfig, type StepDefaults } from './retry.js';
import { ABORTED, Execution, Runtime } from './runtime.js';
import { isCarriedOut, TRANSITIONS, type InstanceAction } from './transitions.js';
import { replayOutput, StepRunner, toErrorInfo } from './step.js';
import { StreamOutput } from '../stream-output.js';

/** A refused engine operation; the HTTP layer turns `reason` into a status and an error code. */
export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly reason:
      'already_exists' | 'cannot_pause' | 'cannot_resume' | 'cannot_terminate' | 'cannot_restart' | 'cannot_send_event',
    message: string,
  ) {
    super(message);
  }
}

export interface EngineOptions {
  clock: Clock;
  store: Store;
  /** Workflow classes by class name. */
  classes: Map<string, WorkflowClass>;
  env?: unknown;
  stepDefaults?: StepDefaults;
  /** Retention of finished instances when nothing shorter is configured. @default 30 days */
  maxRetentionMs?: number;
  /**
   * Which retention applies to `terminated` instances (uncertain in production: docs/upstream-contract.md §4.4).
   * @default 'error'
   */
  terminatedRetention?: 'success' | 'error';
  /** Whether events may be sent to finished instances (docs say it fails). @default false */
  acceptEventsWhenFinished?: boolean;
  /** Steps (`do` and `waitForEvent`) per instance when the version sets no `limits.steps`. @default 10000 */
  defaultStepLimit?: number;
  /** Instances of one account that may hold a concurrency slot at once (`waiting` ones hold none). @default 50000 */
  accountConcurrencyLimit?: number;
  /** Bytes of streamed step output one instance may store. @default 1 GiB */
  streamStorageLimitBytes?: number;
  onError?: (error: unknown) => void;
}

export interface CreateInstanceInput {
  id: string;
  params: unknown;
  trigger: TriggerSource;
  retention?: RetentionMs;
  schedule?: { cron: string; scheduledTime: number };
}

const DAY = 86_400_000;
type Listener = (instance: InstanceRecord) => void;

/** Concurrency slots of one workflow; waiters are granted in arrival order. */
interface WorkflowPool {
  running: number;
  readonly queue: { readonly seq: number; readonly grant: () => void }[];
  readonly limit: () => number;
}

/** Slots of one account across its workflows. */
interface AccountPool {
  running: number;
  readonly pools: Set<WorkflowPool>;
}

export class Engine implements EngineHost {
  readonly clock: Clock;
  readonly stepDefaults: StepDefaults;
  private readonly store: Store;
  private readonly classes: Map<string, WorkflowClass>;
  private readonly runtimes = new WeakMap<InstanceRecord, Runtime>();
  /** Slot accounting per workflow (account id + name) and per account. */
  private readonly workflowPools = new Map<string, WorkflowPool>();
  private readonly accountPools = new Map<string, AccountPool>();
  private waiterSeq = 0;
  private readonly cronTimers = new Map<WorkflowRecord, { cancel(): void }[]>();
  private readonly listeners = new Set<Listener>();
  /** Number of tasks currently executing code (not parked on the clock, an event or a slot). */
  private active = 0;
  private closed = false;

  constructor(private readonly options: EngineOptions) {
    this.clock = options.clock;
    this.store = options.store;
    this.classes = options.classes;
    this.stepDefaults = options.stepDefaults ?? PRODUCTION_STEP_DEFAULTS;
  }

  registerClass(className: string, cls: WorkflowClass): void {
    this.classes.set(className, cls);
  }

  /** Resolves once no workflow code is executing (everything is parked or done), or after `maxWaitMs`. */
  async settle(maxWaitMs = 5000): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    // Yield at least once so work scheduled by the caller gets to start.
    do {
      await new Promise<void>((resolve) => setImmediate(resolve));
    } while (this.active > 0 && Date.now() < deadline);
  }

  /** Called on every change of an instance (status or steps). */
  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    for (const timers of this.cronTimers.values()) for (const t of timers) t.cancel();
    this.cronTimers.clear();
    for (const accountId of this.store.accountIds()) {
      for (const workflow of this.store.account(accountId)?.workflows.values() ?? []) {
        for (const instance of workflow.instances.values()) this.runtimes.get(instance)?.exec?.abort();
      }
    }
  }

  // EngineHost

  stepLimit(instance: InstanceRecord): number {
    const workflow = this.workflowOf(instance);
    const version = workflow && this.store.versionOf(workflow, instance.versionId);
    return version?.limits?.steps ?? this.options.defaultStepLimit ?? 10_000;
  }

  streamBudget(instance: InstanceRecord): { remainingBytes: number; limitBytes: number } {
    const limitBytes = this.options.streamStorageLimitBytes ?? 1024 ** 3;
    let used = 0;
    for (const step of instance.steps) {
      if ((step.type === 'step' || step.type === 'rollback') && step.output instanceof StreamOutput)
        used += step.output.byteLength;
    }
    return { remainingBytes: Math.max(0, limitBytes - used), limitBytes };
  }

  addStep(instance: InstanceRecord, record: StepRecord): void {
    instance.steps.push(record);
    instance.stepIndex.set(record.key, record);
    this.touch(instance);
  }

  touch(instance: InstanceRecord): void {
    instance.modified = this.clock.now();
    for (const listener of this.listeners) listener(instance);
  }

  private setStatus(instance: InstanceRecord, status: InstanceStatus): void {
    if (instance.status === status) return;
    instance.status = status;
    this.touch(instance);
  }

  /** Parks the current task until `register` calls its wake function; aborting the execution rejects. */
  private park<T>(exec: Execution, register: (wake: (value: T) => void) => () => void): Promise<T> {
    exec.check();
    this.active--;
    return new Promise<T>((resolve, reject) => {
      let done = false;
      let cleanup: () => void = () => {};
      const finish = (settle: () => void) => {
        if (done) return;
        done = true;
        exec.cancels.delete(onAbort);
        cleanup();
        // Counted before the continuation runs, so settle() cannot slip in between.
        this.active++;
        settle();
      };
      const onAbort = () => finish(() => reject(ABORTED));
      exec.cancels.add(onAbort);
      cleanup = register((value) => finish(() => resolve(value)));
    });
  }

  async hibernate(rt: Runtime, exec: Execution, until: number): Promise<void> {
    if (until <= this.clock.now()) return;
    this.toWaiting(rt, exec);
    await this.park<void>(exec, (wake) => {
      const timer = this.clock.at(until, () => wake());
      return () => timer.cancel();
    });
  }

  async awaitEvent(rt: Runtime, exec: Execution, type: string, deadline: number) {
    this.toWaiting(rt, exec);
    type Ev = { payload: unknown; timestamp: number; type: string };
    return this.park<Ev | null>(exec, (wake) => {
      const waiter = { deliver: (event: Ev) => wake(event) };
      const list = rt.waiters.get(type) ?? [];
      list.push(waiter);
      rt.waiters.set(type, list);
      const timer = this.clock.at(deadline, () => wake(null));
      return () => {
        timer.cancel();
        const current = rt.waiters.get(type);
        if (current) {
          const rest = current.filter((w) => w !== waiter);
          if (rest.length > 0) rt.waiters.set(type, rest);
          else rt.waiters.delete(type);
        }
      };
    });
  }

  takeBufferedEvent(instance: InstanceRecord, type: string) {
    const queue = instance.events.get(type);
    const event = queue?.shift();
    if (queue && queue.length === 0) instance.events.delete(type);
    return event;
  }

  private toWaiting(rt: Runtime, exec: Execution): void {
    if (rt.activeDo > 0) return;
    this.releaseSlot(rt.instance, exec);
    if (rt.instance.status === 'running') this.setStatus(rt.instance, 'waiting');
  }

  async acquireSlot(rt: Runtime, exec: Execution): Promise<void> {
    exec.check();
    const instance = rt.instance;
    if (!exec.slotHeld) {
      const pool = this.workflowPool(instance);
      const account = this.accountPool(instance.accountId);
      // After every release the pump leaves the account either full or with only workflow-blocked waiters,
      // so an empty queue of this workflow means nobody is ahead of this instance.
      if (account.running < this.accountLimit() && pool.running < pool.limit() && pool.queue.length === 0) {
        pool.running++;
        account.running++;
        exec.slotHeld = true;
      } else {
        this.setStatus(instance, 'queued');
        await this.park<void>(exec, (wake) => {
          const waiter = {
            seq: this.waiterSeq++,
            grant: () => {
              exec.slotHeld = true;
              wake();
            },
          };
          pool.queue.push(waiter);
          return () => {
            const index = pool.queue.indexOf(waiter);
            if (index >= 0) pool.queue.splice(index, 1);
          };
        });
      }
    }
    if (instance.start === null) instance.start = this.clock.now();
    if (rt.pauseRequested) this.setStatus(instance, 'waitingForPause');
    else if (instance.status !== 'rollingBack') this.setStatus(instance, 'running');
  }

  private releaseSlot(instance: InstanceRecord, exec: Execution): void {
    if (!exec.slotHeld) return;
    exec.slotHeld = false;
    this.workflowPool(instance).running--;
    this.accountPool(instance.accountId).running--;
    this.grantSlots(instance.accountId);
  }

  /** Hands free slots to waiters, oldest first among the workflows that are below their own limit. */
  grantSlots(accountId: string): void {
    const account = this.accountPool(accountId);
    const accountLimit = this.accountLimit();
    while (account.running < accountLimit) {
      let best: WorkflowPool | undefined;
      for (const pool of account.pools) {
        const head = pool.queue[0];
        if (head && pool.running < pool.limit() && (!best || head.seq < best.queue[0]!.seq)) best = pool;
      }
      if (!best) return;
      best.running++;
      account.running++;
      best.queue.shift()!.grant();
    }
  }

  /** Instances of the account holding a concurrency slot, and instances waiting for one. */
  slotUsage(accountId: string): { running: number; queued: number } {
    const account = this.accountPools.get(accountId);
    let queued = 0;
    for (const pool of account?.pools ?? []) queued += pool.queue.length;
    return { running: account?.running ?? 0, queued };
  }

  private accountLimit(): number {
    return this.options.accountConcurrencyLimit ?? 50_000;
  }

  private workflowPool(instance: InstanceRecord): WorkflowPool {
    const key = `${instance.accountId}/${instance.workflowName}`;
    let pool = this.workflowPools.get(key);
    if (!pool) {
      pool = { running: 0, queue: [], limit: () => this.concurrencyLimit(instance) };
      this.workflowPools.set(key, pool);
      this.accountPool(instance.accountId).pools.add(pool);
    }
    return pool;
  }

  private accountPool(accountId: string): AccountPool {
    let pool = this.accountPools.get(accountId);
    if (!pool) {
      pool = { running: 0, pools: new Set() };
      this.accountPools.set(accountId, pool);
    }
    return pool;
  }

  private concurrencyLimit(instance: InstanceRecord): number {
    const workflow = this.workflowOf(instance);
    return (workflow && this.store.currentVersion(workflow).concurrency?.limit) || Infinity;
  }

  withTimeout<T>(exec: Execution, work: Promise<T>, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = this.clock.at(this.clock.now() + timeoutMs, () => {
        if (settled) return;
        settled = true;
        exec.cancels.delete(onAbort);
        reject(Object.assign(new Error(`Execution timed out after ${timeoutMs}ms`), { name: 'WorkflowTimeoutError' }));
      });
      const onAbort = () => {
        if (settled) return;
        settled = true;
        timer.cancel();
        reject(ABORTED);
      };
      exec.cancels.add(onAbort);
      work.then(
        (value) => {
          if (settled) return;
          settled = true;
          timer.cancel();
          exec.cancels.delete(onAbort);
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          timer.cancel();
          exec.cancels.delete(onAbort);
          reject(error instanceof Error || typeof error === 'symbol' ? error : new Error(String(error)));
        },
      );
    });
  }

  afterStep(rt: Runtime, exec: Execution): void {
    if (rt.pauseRequested && rt.activeDo === 0) {
      this.completePause(rt);
      exec.check();
    }
  }

  // Lifecycle

  private runtime(instance: InstanceRecord): Runtime {
    let rt = this.runtimes.get(instance);
    if (!rt) {
      rt = new Runtime(instance);
      this.runtimes.set(instance, rt);
    }
    return rt;
  }

  private workflowOf(instance: InstanceRecord): WorkflowRecord | undefined {
    return this.store.account(instance.accountId)?.workflows.get(instance.workflowName);
  }

  /** Creates and queues an instance. Throws EngineError('already_exists') for an id still retained. */
  create(workflow: WorkflowRecord, input: CreateInstanceInput): InstanceRecord {
    this.sweep(workflow);
    if (workflow.instances.has(input.id)) {
      throw new EngineError(
        'already_exists',
        `(instance.already_exists) Workflow instance with id "${input.id}" already exists`,
      );
    }
    const now = this.clock.now();
    const instance: InstanceRecord = {
      id: input.id,
      seq: workflow.nextSeq++,
      accountId: workflow.accountId,
      workflowName: workflow.name,
      workflowId: workflow.id,
      versionId: this.store.currentVersion(workflow).id,
      status: 'queued',
      params: input.params,
      trigger: input.trigger,
      queued: now,
      start: null,
      end: null,
      modified: now,
      success: null,
      output: null,
      error: null,
      rollback: null,
      schedule: input.schedule ?? null,
      retention: input.retention ?? {},
      steps: [],
      stepIndex: new Map(),
      events: new Map(),
      pausedAt: null,
      eventTimestamp: now,
    };
    workflow.instances.set(instance.id, instance);
    workflow.triggeredOn = now;
    this.startExecution(instance);
    return instance;
  }

  private startExecution(instance: InstanceRecord): void {
    if (this.closed) return;
    const rt = this.runtime(instance);
    const exec = new Execution();
    rt.exec = exec;
    this.task(async () => {
      try {
        // Start on a later tick: the caller answers with `queued`, as production does right after a create.
        await Promise.resolve();
        await this.acquireSlot(rt, exec);
        const workflow = this.workflowOf(instance);
        // An instance keeps running the class of the version it was created on, even after a PUT changed it.
        const className =
          (workflow && this.store.versionOf(workflow, instance.versionId)?.className) ?? workflow?.className;
        const cls = className === undefined ? undefined : this.classes.get(className);
        if (!cls) {
          throw new Error(
            `The Worker script "${workflow?.scriptName ?? '?'}" does not export a workflow class named "${className ?? '?'}"`,
          );
        }
        const code = new cls({ workflowName: instance.workflowName, instanceId: instance.id }, this.options.env);
        const event = {
          payload: instance.params,
          timestamp: new Date(instance.eventTimestamp),
          instanceId: instance.id,
        };
        const result = await code.run(event, new StepRunner(this, rt, exec));
        exec.check();
        const output = toJsonOrError(result);
        this.releaseSlot(instance, exec);
        instance.output = output.value;
        if (output.error) return await this.fail(rt, exec, output.error);
        this.finish(instance, 'complete');
      } catch (error) {
        if (error === ABORTED || exec.aborted) return;
        await this.fail(rt, exec, error);
      } finally {
        this.releaseSlot(instance, exec);
        if (rt.exec === exec) rt.exec = null;
      }
    });
  }

  private task(work: () => Promise<void>): void {
    this.active++;
    work()
      .catch((error: unknown) => {
        if (error !== ABORTED) this.options.onError?.(error);
      })
      .finally(() => {
        this.active--;
      });
  }

  private finish(instance: InstanceRecord, status: 'complete' | 'errored' | 'terminated'): void {
    instance.end = this.clock.now();
    instance.success = status === 'complete';
    this.setStatus(instance, status);
    this.touch(instance);
  }

  private async fail(rt: Runtime, exec: Execution, error: unknown): Promise<void> {
    const instance = rt.instance;
    this.releaseSlot(instance, exec);
    instance.error = toErrorInfo(error);
    if (this.pendingRollbacks(rt).length > 0) {
      this.setStatus(instance, 'rollingBack');
      await this.runRollbacks(rt, exec, error instanceof Error ? error : new Error(instance.error.message));
      if (exec.aborted) return;
    }
    this.finish(instance, 'errored');
  }

  private pendingRollbacks(rt: Runtime) {
    return [...rt.rollbacks.values()].filter((entry) => {
      const record = rt.instance.stepIndex.get(entry.key);
      return record?.type === 'step' && record.success === true;
    });
  }

  /** Runs registered rollback handlers newest-first, each as a logged `rollback` step with retries. */
  private async runRollbacks(rt: Runtime, exec: Execution, cause: Error): Promise<void> {
    const instance = rt.instance;
    const runner = new StepRunner(this, rt, exec);
    let firstError: ReturnType<typeof toErrorInfo> | null = null;
    for (const entry of this.pendingRollbacks(rt).reverse()) {
      const step = instance.stepIndex.get(entry.key) as DoStepRecord;
      const key = `rollback:${step.name}`;
      if (instance.stepIndex.get(key)?.type === 'rollback') continue;
      let config;
      try {
        config = resolveStepConfig(entry.config, this.stepDefaults);
      } catch (error) {
        firstError ??= toErrorInfo(error);
        continue;
      }
      const record: DoStepRecord = {
        type: 'rollback',
        key,
        baseName: entry.baseName,
        count: entry.count,
        name: step.name,
        start: this.clock.now(),
        end: null,
        success: null,
        output: null,
        config,
        attempts: [],
        nextAttemptAt: null,
      };
      this.addStep(instance, record);
      const stepConfig = resolveStepConfig(entry.stepConfig, this.stepDefaults);
      try {
        await runner.runAttempts(
          record,
          (attempt) =>
            entry.handler({
              ctx: { step: { name: entry.baseName, count: entry.count }, attempt, config: stepConfig },
              output: replayOutput(step.output),
              error: cause,
              stepName: step.name,
            }),
          'rollback',
        );
      } catch (error) {
        if (error === ABORTED || exec.aborted) return;
        firstError ??= toErrorInfo(error);
      }
    }
    this.releaseSlot(instance, exec);
    instance.rollback = { outcome: firstError ? 'failed' : 'complete', error: firstError };
    this.touch(instance);
  }

  private refuse(instance: InstanceRecord, action: InstanceAction): never {
    const reason = `cannot_${action}` as const;
    // The one documented refusal (terminate of a finished instance) answers with the local engine's words.
    const message =
      action === 'terminate' && TRANSITIONS[instance.status].terminate === 'refused'
        ? '(instance.cannot_terminate) Cannot terminate instance since its on a finite state'
        : `(instance.${reason}) Cannot ${action} instance in status "${instance.status}"`;
    throw new EngineError(reason, message);
  }

  pause(instance: InstanceRecord): InstanceStatus {
    if (!isCarriedOut(instance.status, 'pause')) this.refuse(instance, 'pause');
    const rt = this.runtime(instance);
    rt.pauseRequested = true;
    if (rt.activeDo > 0) this.setStatus(instance, 'waitingForPause');
    else this.completePause(rt);
    return instance.status;
  }

  private completePause(rt: Runtime): void {
    const instance = rt.instance;
    rt.pauseRequested = false;
    const exec = rt.exec;
    if (exec) {
      this.releaseSlot(instance, exec);
      exec.abort();
    }
    instance.pausedAt = this.clock.now();
    this.setStatus(instance, 'paused');
  }

  resume(instance: InstanceRecord): InstanceStatus {
    if (!isCarriedOut(instance.status, 'resume')) this.refuse(instance, 'resume');
    const rt = this.runtime(instance);
    if (instance.status === 'waitingForPause') {
      rt.pauseRequested = false;
      this.setStatus(instance, 'running');
      return instance.status;
    }
    // Remaining sleep, retry and event-timeout time is kept: shift every pending deadline by the pause.
    const shift = this.clock.now() - (instance.pausedAt ?? this.clock.now());
    for (const step of instance.steps) {
      if ((step.type === 'sleep' || step.type === 'waitForEvent') && !step.finished) step.end += shift;
      if ((step.type === 'step' || step.type === 'rollback') && step.nextAttemptAt !== null)
        step.nextAttemptAt += shift;
    }
    instance.pausedAt = null;
    this.setStatus(instance, 'queued');
    this.startExecution(instance);
    return instance.status;
  }

  terminate(instance: InstanceRecord, rollback = false): InstanceStatus {
    if (!isCarriedOut(instance.status, 'terminate')) this.refuse(instance, 'terminate');
    const rt = this.runtime(instance);
    this.stop(rt);
    instance.pausedAt = null;
    const record: StepRecord = { type: 'termination', key: `termination:${instance.steps.length}`, source: 'api' };
    if (rollback && this.pendingRollbacks(rt).length > 0) {
      this.setStatus(instance, 'rollingBack');
      const exec = new Execution();
      rt.exec = exec;
      this.task(async () => {
        await this.runRollbacks(
          rt,
          exec,
          Object.assign(new Error('Instance terminated'), { name: 'WorkflowTerminated' }),
        );
        if (exec.aborted) return;
        if (rt.exec === exec) rt.exec = null;
        this.addStep(instance, record);
        this.finish(instance, 'terminated');
      });
      return instance.status;
    }
    this.addStep(instance, record);
    this.finish(instance, 'terminated');
    return instance.status;
  }

  restart(
    instance: InstanceRecord,
    from?: { name: string; count?: number; type?: 'do' | 'sleep' | 'waitForEvent' },
  ): InstanceStatus {
    if (!isCarriedOut(instance.status, 'restart')) this.refuse(instance, 'restart');
    const rt = this.runtime(instance);
    let keep = 0;
    if (from) {
      const kind = from.type ?? 'do';
      const key = `${kind}:${from.name}-${from.count ?? 1}`;
      const index = instance.steps.findIndex((s) => s.key === key);
      if (index < 0) {
        throw new EngineError(
          'cannot_restart',
          `(instance.cannot_restart) Step "${from.name}" not found in execution history`,
        );
      }
      keep = index;
    }
    this.stop(rt);
    // Rollback and termination entries belong to the run being replaced, wherever they sit.
    instance.steps = instance.steps.slice(0, keep).filter((s) => s.type !== 'rollback' && s.type !== 'termination');
    instance.stepIndex = new Map(instance.steps.map((s) => [s.key, s]));
    for (const key of [...rt.rollbacks.keys()]) if (!instance.stepIndex.has(key)) rt.rollbacks.delete(key);
    if (!from) {
      instance.events.clear();
      instance.start = null;
      instance.queued = this.clock.now();
    }
    instance.end = null;
    instance.success = null;
    instance.output = null;
    instance.error = null;
    instance.rollback = null;
    instance.pausedAt = null;
    this.setStatus(instance, 'queued');
    this.touch(instance);
    this.startExecution(instance);
    return instance.status;
  }

  /** Stops whatever the instance is executing, without recording anything. */
  private stop(rt: Runtime): void {
    rt.pauseRequested = false;
    rt.activeDo = 0;
    const exec = rt.exec;
    rt.exec = null;
    if (exec) {
      this.releaseSlot(rt.instance, exec);
      exec.abort();
    }
    rt.waiters.clear();
  }

  sendEvent(instance: InstanceRecord, type: string, payload: unknown): number {
    if (isFinal(instance.status) && !this.options.acceptEventsWhenFinished) {
      throw new EngineError(
        'cannot_send_event',
        `(instance.not_running) Cannot send events to an instance in status "${instance.status}"`,
      );
    }
    const event = { payload, timestamp: this.clock.now(), type };
    const rt = this.runtime(instance);
    const waiter = rt.waiters.get(type)?.[0];
    if (waiter) waiter.deliver(event);
    else {
      const queue = instance.events.get(type) ?? [];
      queue.push(event);
      instance.events.set(type, queue);
    }
    this.touch(instance);
    return event.timestamp;
  }

  deleteInstance(workflow: WorkflowRecord, instance: InstanceRecord): void {
    this.stop(this.runtime(instance));
    workflow.instances.delete(instance.id);
  }

  deleteWorkflow(account: AccountRecord, workflow: WorkflowRecord): void {
    for (const instance of workflow.instances.values()) this.stop(this.runtime(instance));
    workflow.instances.clear();
    for (const timer of this.cronTimers.get(workflow) ?? []) timer.cancel();
    this.cronTimers.delete(workflow);
    account.workflows.delete(workflow.name);
  }

  /** Retention in ms of a finished instance. */
  retentionMs(instance: InstanceRecord): number {
    const kind =
      instance.status === 'complete'
        ? 'success'
        : instance.status === 'terminated'
          ? (this.options.terminatedRetention ?? 'error')
          : 'error';
    const workflow = this.workflowOf(instance);
    const version = workflow && this.store.versionOf(workflow, instance.versionId);
    const account = this.store.account(instance.accountId);
    const max = this.options.maxRetentionMs ?? 30 * DAY;
    const configured =
      instance.retention[kind] ?? version?.defaultRetention?.[kind] ?? account?.settings.defaultRetention?.[kind];
    return Math.min(configured ?? max, max);
  }

  /** Drops finished instances whose retention has passed. Runs lazily whenever a workflow's instances are read. */
  sweep(workflow: WorkflowRecord): void {
    const now = this.clock.now();
    for (const instance of workflow.instances.values()) {
      if (this.isExpired(instance, now)) workflow.instances.delete(instance.id);
    }
  }

  isExpired(instance: InstanceRecord, now = this.clock.now()): boolean {
    return isFinal(instance.status) && instance.end !== null && now >= instance.end + this.retentionMs(instance);
  }

  /** (Re)arms the cron timers of a workflow: each schedule creates a cron-triggered instance when due. */
  schedule(workflow: WorkflowRecord): void {
    for (const timer of this.cronTimers.get(workflow) ?? []) timer.cancel();
    const timers: { cancel(): void }[] = [];
    this.cronTimers.set(workflow, timers);
    workflow.schedules.forEach(({ cron }, index) => {
      const arm = () => {
        const at = nextCronTime(cron, this.clock.now());
        if (at === undefined || this.closed) return;
        timers[index] = this.clock.at(at, () => {
          const account = this.store.account(workflow.accountId);
          if (account?.workflows.get(workflow.name) !== workflow) return;
          const id = `${cron}-${at}`;
          try {
            if (!workflow.instances.has(id))
              this.create(workflow, { id, params: {}, trigger: 'cron', schedule: { cron, scheduledTime: at } });
          } catch (error) {
            this.options.onError?.(error);
          }
          arm();
        });
      };
      arm();
    });
  }
}

function toJsonOrError(value: unknown): { value: unknown; error?: Error } {
  try {
    const text = JSON.stringify(value);
    return { value: text === undefined ? null : (JSON.parse(text) as unknown) };
  } catch (error) {
    return {
      value: null,
      error: new Error(`The workflow's return value is not serialisable: ${toErrorInfo(error).message}`),
    };
  }
}
