/**
 * The `step` object handed to run(): do / sleep / sleepUntil / waitForEvent with retries, per-attempt
 * timeouts, replay from the step log, and the `waiting` status while the instance hibernates.
 */
import { requireDuration, type Duration } from '../duration.js';
import type { DoStepRecord, ErrorInfo, SleepStepRecord, WaitStepRecord } from '../types.js';
import {
  isNonRetryable,
  NonRetryableError,
  WorkflowTimeoutError,
  type StepCallback,
  type StepContext,
  type StepRollbackOptions,
  type WorkflowStep,
  type WorkflowStepConfig,
  type WorkflowStepEvent,
} from './model.js';
import { resolveStepConfig, retryDelayMs } from './retry.js';
import type { EngineHost } from './host.js';
import type { Execution, Runtime } from './runtime.js';
import { isReadableStream, readStepStream, StreamOutput } from '../stream-output.js';

const MAX_SLEEP_MS = 365 * 86_400_000;
const MAX_OUTPUT_BYTES = 1024 * 1024;
const DEFAULT_EVENT_TIMEOUT = '24 hours';
const NAME_MAX = 256;
const EVENT_TYPE = /^[a-zA-Z0-9_][a-zA-Z0-9-_]*$/;

/** An error rebuilt from the log when a failed step replays. */
export class ReplayedStepError extends Error {
  constructor(info: ErrorInfo) {
    super(info.message);
    this.name = info.name;
  }
}

export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) return { name: error.name || 'Error', message: error.message };
  return { name: 'Error', message: typeof error === 'string' ? error : safeString(error) };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** What a finished step hands back to workflow code: stored streams come back as a fresh stream. */
export function replayOutput(output: unknown): unknown {
  return output instanceof StreamOutput ? output.toStream() : output;
}

/** A JSON-safe copy of a step result; throws when it cannot be stored. */
export function toStoredJson(value: unknown, what: string): unknown {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new NonRetryableError(`${what} is not serialisable: ${toErrorInfo(error).message}`);
  }
  if (text === undefined) return null;
  const size = Buffer.byteLength(text);
  if (size > MAX_OUTPUT_BYTES) {
    throw new NonRetryableError(
      `${what} is larger than 1 MiB (${size} bytes of JSON); return a ReadableStream for large outputs`,
    );
  }
  return JSON.parse(text) as unknown;
}

function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) < 0x20) return true;
  return false;
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > NAME_MAX || hasControlCharacter(name)) {
    throw new TypeError(
      `Step names must be 1..${NAME_MAX} characters without control characters (got ${JSON.stringify(name)})`,
    );
  }
  return name;
}

export class StepRunner implements WorkflowStep {
  private readonly counters = new Map<string, number>();

  constructor(
    private readonly host: EngineHost,
    private readonly rt: Runtime,
    private readonly exec: Execution,
  ) {}

  private next(kind: string, name: string): number {
    const key = `${kind}:${name}`;
    const count = (this.counters.get(key) ?? 0) + 1;
    this.counters.set(key, count);
    return count;
  }

  do<T>(name: string, callback: StepCallback<T>, options?: StepRollbackOptions<T>): Promise<T>;
  do<T>(
    name: string,
    config: WorkflowStepConfig,
    callback: StepCallback<T>,
    options?: StepRollbackOptions<T>,
  ): Promise<T>;
  async do<T>(
    name: string,
    a: WorkflowStepConfig | StepCallback<T>,
    b?: StepCallback<T> | StepRollbackOptions<T>,
    c?: StepRollbackOptions<T>,
  ): Promise<T> {
    this.exec.check();
    checkName(name);
    const [config, callback, options] =
      typeof a === 'function' ? [undefined, a, b as StepRollbackOptions<T> | undefined] : [a, b as StepCallback<T>, c];
    if (typeof callback !== 'function') throw new TypeError(`step.do("${name}") needs a callback`);
    const logged = resolveStepConfig(config, this.host.stepDefaults);
    const count = this.next('do', name);
    const key = `do:${name}-${count}`;
    const inst = this.rt.instance;
    let record = inst.stepIndex.get(key) as DoStepRecord | undefined;
    if (options?.rollback) {
      this.rt.rollbacks.set(key, {
        key,
        baseName: name,
        count,
        handler: options.rollback as (args: unknown) => unknown,
        config: options.rollbackConfig,
        stepConfig: config ?? {},
      });
    }
    if (record?.success === true) return replayOutput(record.output) as T;
    if (record?.success === false)
      throw new ReplayedStepError(record.attempts.at(-1)?.error ?? { name: 'Error', message: 'Step failed' });
    if (!record) {
      this.checkStepLimit();
      record = {
        type: 'step',
        key,
        baseName: name,
        count,
        name: `${name}-${count}`,
        start: this.host.clock.now(),
        end: null,
        success: null,
        output: null,
        config: logged,
        attempts: [],
        nextAttemptAt: null,
      };
      this.host.addStep(inst, record);
    }
    const ctx = (attempt: number): StepContext => ({
      step: { name, count },
      attempt,
      config: {
        retries: logged.retries,
        timeout: logged.timeout,
        ...(logged.sensitive ? { sensitive: logged.sensitive } : {}),
      },
    });
    return this.runAttempts(record, (attempt) => callback(ctx(attempt)), 'step');
  }

  /**
   * Every `do` and `waitForEvent` counts toward the instance's step limit; `sleep` does not
   * (docs/upstream-contract.md §4.4).
   */
  private checkStepLimit(): void {
    const limit = this.host.stepLimit(this.rt.instance);
    let used = 0;
    for (const s of this.rt.instance.steps) if (s.type === 'step' || s.type === 'waitForEvent') used++;
    if (used >= limit) {
      throw new NonRetryableError(
        `The limit of ${limit} steps has been reached. Reduce the number of steps in the workflow or raise limits.steps.`,
      );
    }
  }

  /** The retry loop shared by forward steps and rollback handlers. */
  async runAttempts<T>(record: DoStepRecord, attemptFn: (attempt: number) => Promise<T> | T, what: string): Promise<T> {
    const { host, rt, exec } = this;
    const inst = rt.instance;
    const dangling = record.attempts.at(-1);
    if (dangling && dangling.end === null) {
      // The execution that ran this attempt was stopped; the local engine closes it the same way.
      dangling.end = host.clock.now();
      dangling.success = false;
      dangling.error = { name: 'WorkflowInternalError', message: 'Attempt failed due to internal workflows error' };
      record.nextAttemptAt ??= host.clock.now();
    }
    const timeoutMs = requireDuration(record.config.timeout, 'timeout');
    for (;;) {
      if (record.nextAttemptAt !== null && record.nextAttemptAt > host.clock.now()) {
        await host.hibernate(rt, exec, record.nextAttemptAt);
      }
      record.nextAttemptAt = null;
      await host.acquireSlot(rt, exec);
      const attempt = {
        start: host.clock.now(),
        end: null,
        success: null,
        error: null,
      } as DoStepRecord['attempts'][number];
      record.attempts.push(attempt);
      host.touch(inst);
      rt.activeDo++;
      let value: unknown;
      let failure: { error: unknown } | undefined;
      // Cancels reading a returned stream once the attempt has timed out or the execution stopped.
      const reading = new AbortController();
      try {
        const work = Promise.resolve()
          .then(() => attemptFn(record.attempts.length))
          .then((result: unknown) =>
            isReadableStream(result) ? readStepStream(result, host.streamBudget(inst), reading.signal) : result,
          );
        value = await host.withTimeout(exec, work, timeoutMs);
        exec.check();
        attempt.output =
          value instanceof StreamOutput ? value : toStoredJson(value, `The output of ${what} "${record.name}"`);
      } catch (error) {
        reading.abort();
        failure = { error };
      }
      rt.activeDo--;
      exec.check();
      attempt.end = host.clock.now();
      if (!failure) {
        attempt.success = true;
        record.end = attempt.end;
        record.success = true;
        record.output = attempt.output;
        host.touch(inst);
        host.afterStep(rt, exec);
        return replayOutput(value) as T;
      }
      attempt.success = false;
      attempt.error = toErrorInfo(failure.error);
      const failures = record.attempts.length;
      if (isNonRetryable(failure.error) || failures > record.config.retries.limit) {
        record.end = attempt.end;
        record.success = false;
        host.touch(inst);
        host.afterStep(rt, exec);
        throw failure.error;
      }
      record.nextAttemptAt = host.clock.now() + retryDelayMs(record.config, failures);
      host.touch(inst);
      host.afterStep(rt, exec);
    }
  }

  async sleep(name: string, duration: Duration): Promise<void> {
    this.exec.check();
    checkName(name);
    const ms = requireDuration(duration, `step.sleep("${name}") duration`);
    if (ms > MAX_SLEEP_MS) throw new TypeError(`step.sleep("${name}") is longer than 365 days`);
    await this.sleepTo(name, () => this.host.clock.now() + ms);
  }

  async sleepUntil(name: string, timestamp: Date | number): Promise<void> {
    this.exec.check();
    checkName(name);
    const at = timestamp instanceof Date ? timestamp.getTime() : timestamp;
    if (typeof at !== 'number' || !Number.isFinite(at))
      throw new TypeError(`step.sleepUntil("${name}") needs a Date or epoch milliseconds`);
    await this.sleepTo(name, () => {
      const now = this.host.clock.now();
      if (at < now)
        throw new TypeError(`step.sleepUntil("${name}") timestamp ${new Date(at).toISOString()} is in the past`);
      if (at - now > MAX_SLEEP_MS) throw new TypeError(`step.sleepUntil("${name}") is more than 365 days ahead`);
      return at;
    });
  }

  private async sleepTo(name: string, wakeAt: () => number): Promise<void> {
    const { host, rt, exec } = this;
    const inst = rt.instance;
    const count = this.next('sleep', name);
    const key = `sleep:${name}-${count}`;
    let record = inst.stepIndex.get(key) as SleepStepRecord | undefined;
    if (record?.finished) return;
    if (!record) {
      const end = wakeAt();
      record = {
        type: 'sleep',
        key,
        baseName: name,
        count,
        name: `${name}-${count}`,
        start: host.clock.now(),
        end,
        finished: false,
        error: null,
      };
      host.addStep(inst, record);
    }
    await host.hibernate(rt, exec, record.end);
    record.end = host.clock.now();
    record.finished = true;
    host.touch(inst);
    await host.acquireSlot(rt, exec);
  }

  async waitForEvent<T = unknown>(
    name: string,
    options: { type: string; timeout?: Duration },
  ): Promise<WorkflowStepEvent<T>> {
    const { host, rt, exec } = this;
    exec.check();
    checkName(name);
    const type = options?.type;
    if (typeof type !== 'string' || type.length > 100 || !EVENT_TYPE.test(type)) {
      throw new TypeError(
        `step.waitForEvent("${name}") needs an event type of 1..100 letters, digits, - and _ (got ${JSON.stringify(type)})`,
      );
    }
    const timeoutMs = requireDuration(options.timeout ?? DEFAULT_EVENT_TIMEOUT, `step.waitForEvent("${name}") timeout`);
    const inst = rt.instance;
    const count = this.next('waitForEvent', name);
    const key = `waitForEvent:${name}-${count}`;
    let record = inst.stepIndex.get(key) as WaitStepRecord | undefined;
    const done = (r: WaitStepRecord): WorkflowStepEvent<T> => {
      if (r.error) throw new ReplayedStepError(r.error);
      const event = r.event!;
      return { payload: event.payload as T, timestamp: new Date(event.timestamp), type: event.type };
    };
    if (record?.finished) return done(record);
    if (!record) {
      this.checkStepLimit();
      const now = host.clock.now();
      record = {
        type: 'waitForEvent',
        key,
        baseName: name,
        count,
        name: `${name}-${count}`,
        start: now,
        end: now + timeoutMs,
        finished: false,
        error: null,
        eventType: type,
        event: null,
      };
      host.addStep(inst, record);
    }
    const event = host.takeBufferedEvent(inst, type) ?? (await host.awaitEvent(rt, exec, type, record.end));
    record.end = host.clock.now();
    record.finished = true;
    if (event) record.event = event;
    else
      record.error = {
        name: 'WorkflowTimeoutError',
        message: `Execution timed out after ${timeoutMs}ms waiting for event "${type}"`,
      };
    host.touch(inst);
    await host.acquireSlot(rt, exec);
    return done(record);
  }
}

export { WorkflowTimeoutError };
