import type { Context } from '../context.js';
import type { StepOutputType } from '../loaders.js';
import type {
  DoStepInfo,
  Duration as DurationInfo,
  ErrorInfo,
  SleepStepInfo,
  StepAttempt as StepAttemptInfo,
  StepConfig as StepConfigInfo,
  StepInfo,
  TerminationStepInfo,
  WaitForEventStepInfo,
} from '../upstream/types.js';
import { toGraphQLError } from '../errors/from-upstream.js';
import { declareSource } from '../graphql/field-source.js';
import { DYNAMIC_DELAY, readDuration, type ReadDuration } from '../upstream/duration.js';
import { UpstreamProtocolError } from '../upstream/errors.js';
import { authorizeRead } from './authorization.js';
import { builder } from './builder.js';

/** Backing shape of every step type: the step log entry plus the instance it belongs to (for full outputs). */
export interface StepRef<S extends StepInfo = StepInfo> {
  readonly workflowName: string;
  readonly instanceId: string;
  readonly step: S;
}

export function stepRefs(
  instance: { workflowName: string; instanceId: string },
  steps: readonly StepInfo[],
): StepRef[] {
  return steps.map((step) => ({ workflowName: instance.workflowName, instanceId: instance.instanceId, step }));
}

export const WorkflowError = builder.objectRef<ErrorInfo>('WorkflowError').implement({
  description: 'An error thrown by workflow code, as Cloudflare logs it.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The error class name, such as `Error` or `NonRetryableError`.' }),
    message: t.exposeString('message', { description: 'The error message.' }),
  }),
});

const StepTypeEnum = builder.enumType('StepType', {
  description: 'The kind of a step log entry.',
  values: {
    DO: { value: 'do' as const, description: 'A `step.do` call (or one of its rollback handlers).' },
    SLEEP: { value: 'sleep' as const, description: 'A `step.sleep` or `step.sleepUntil` call.' },
    WAIT_FOR_EVENT: { value: 'waitForEvent' as const, description: 'A `step.waitForEvent` call.' },
    TERMINATION: { value: 'termination' as const, description: 'The instance was terminated here.' },
  },
});

const BackoffEnum = builder.enumType('Backoff', {
  description: 'How the delay between retries grows.',
  values: {
    CONSTANT: { value: 'constant' as const, description: 'The same delay every time.' },
    LINEAR: { value: 'linear' as const, description: 'delay × n.' },
    EXPONENTIAL: { value: 'exponential' as const, description: 'delay × 2^(n-1).' },
  },
});

async function fullOutput(ctx: Context, ref: StepRef, type: StepOutputType): Promise<unknown> {
  authorizeRead(ctx, ref.workflowName);
  const name = ref.step.type === 'termination' ? null : ref.step.name;
  if (name === null) return null;
  const found = await ctx.loaders.stepOutput(ref.workflowName, ref.instanceId, name, type);
  return found?.output ?? null;
}

function stepTypeName(ref: StepRef): 'DoStep' | 'SleepStep' | 'WaitForEventStep' | 'TerminationStep' {
  switch (ref.step.type) {
    case 'do':
      return 'DoStep';
    case 'sleep':
      return 'SleepStep';
    case 'waitForEvent':
      return 'WaitForEventStep';
    case 'termination':
      return 'TerminationStep';
  }
}

/** Only what every entry of a step log has: a termination entry has no name and no times. */
export const WorkflowStep = builder.interfaceRef<StepRef>('WorkflowStep').implement({
  description:
    'One entry of an instance step log. The steps the workflow code ran (`do`, `sleep`, `waitForEvent`) are also `NamedStep`s; the entry that says where the instance was terminated is a `TerminationStep`.',
  resolveType: stepTypeName,
  fields: (t) => ({
    type: t.field({ type: StepTypeEnum, description: 'The kind of step.', resolve: (ref) => ref.step.type }),
  }),
});

/** The steps workflow code calls by name; Cloudflare logs a name and a start time for each. */
type NamedStepInfo = DoStepInfo | SleepStepInfo | WaitForEventStepInfo;

const NamedStep = builder.interfaceRef<StepRef<NamedStepInfo>>('NamedStep').implement({
  description:
    'A step the workflow code ran by name: a `DoStep`, `SleepStep` or `WaitForEventStep`. Select these fields once, in `... on NamedStep`, for a timeline.',
  interfaces: [WorkflowStep],
  resolveType: stepTypeName,
  fields: (t) => ({
    name: t.string({
      description: 'The logged name with its counter suffix, such as `charge-card-1`.',
      resolve: (ref) => ref.step.name,
    }),
    baseName: t.string({ description: 'The name without its counter suffix.', resolve: (r) => r.step.baseName }),
    count: t.int({ description: 'Which call with this name it was, from 1.', resolve: (r) => r.step.count }),
    startedOn: t.field({ type: 'DateTime', description: 'When the step started.', resolve: (ref) => ref.step.start }),
    endedOn: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'When the step ended; null until it has (a sleep that is still sleeping, an event that has not arrived, a `do` still running).',
      resolve: (ref) => endedOn(ref.step),
    }),
  }),
});

/**
 * Cloudflare fills a sleep's and an event wait's `end` before they end, with the time they are due to wake
 * (docs/upstream-contract.md §3.4, §6): that time is `SleepStep.wakesOn` / `WaitForEventStep.timesOutOn`, and
 * `endedOn` waits for `finished`.
 */
function endedOn(step: NamedStepInfo): Date | null {
  return step.type === 'do' || step.finished ? step.end : null;
}

const StepAttempt = builder
  .objectRef<{ readonly number: number; readonly attempt: StepAttemptInfo }>('StepAttempt')
  .implement({
    description: 'One attempt of a `do` step.',
    fields: (t) => ({
      number: t.exposeInt('number', { description: 'The attempt number, from 1.' }),
      startedOn: t.field({
        type: 'DateTime',
        description: 'When the attempt started.',
        resolve: (a) => a.attempt.start,
      }),
      endedOn: t.field({
        type: 'DateTime',
        nullable: true,
        description: 'When it ended; null while running.',
        resolve: (a) => a.attempt.end,
      }),
      success: t.boolean({
        nullable: true,
        description: 'Whether it succeeded; null while running.',
        resolve: (a) => a.attempt.success,
      }),
      error: t.field({
        type: WorkflowError,
        nullable: true,
        description: 'Why it failed.',
        resolve: (a) => a.attempt.error,
      }),
    }),
  });

const DurationRef = builder.objectRef<ReadDuration>('Duration').implement({
  description:
    'A duration from workflow code. Cloudflare takes a number of milliseconds or a string such as `"10 seconds"` (the unit singular or plural: second, minute, hour, day, week, month, year; this server counts a month as 30 days and a year as 365) and logs it as written: `milliseconds` is its length either way, `text` the string when it was one.',
  fields: (t) => ({
    milliseconds: t.exposeFloat('milliseconds', { description: 'The length in milliseconds.' }),
    text: t.exposeString('text', {
      nullable: true,
      description: 'The duration as the workflow code wrote it, such as `10 seconds`; null when it was a number.',
    }),
  }),
});

/**
 * A logged duration as a `Duration`; one Cloudflare would not have accepted breaks the upstream contract, and is
 * answered like any answer of the wrong shape (an `UPSTREAM_ERROR` at this field only).
 */
function typedDuration(value: DurationInfo, what: string): ReadDuration {
  const read = readDuration(value);
  if (read) return read;
  throw toGraphQLError(
    new UpstreamProtocolError(`The Workflows API logged ${what} as ${JSON.stringify(value)}, which is not a duration.`),
  );
}

const StepRetries = builder.objectRef<StepConfigInfo['retries']>('StepRetries').implement({
  description: 'Retry policy of a `do` step.',
  fields: (t) => ({
    limit: t.exposeInt('limit', { description: 'Retries after the first attempt.' }),
    delay: t.field({
      type: DurationRef,
      nullable: true,
      description:
        'The delay before the first retry; null when the step computes each delay with a function (Cloudflare logs `"[dynamic]"`).',
      resolve: (r) => (r.delay === DYNAMIC_DELAY ? null : typedDuration(r.delay, 'a retry delay')),
    }),
    backoff: t.field({
      type: BackoffEnum,
      nullable: true,
      description:
        "How the delay grows; null when the logged config does not say (Cloudflare's default is EXPONENTIAL).",
      resolve: (r) => r.backoff,
    }),
  }),
});

const StepConfig = builder.objectRef<StepConfigInfo>('StepConfig').implement({
  description: 'The configuration a `do` step ran with.',
  fields: (t) => ({
    retries: t.field({ type: StepRetries, description: 'Retry policy.', resolve: (c) => c.retries }),
    timeout: t.field({
      type: DurationRef,
      description: 'The timeout of each attempt.',
      resolve: (c) => typedDuration(c.timeout, 'a step timeout'),
    }),
    sensitive: t.exposeBoolean('sensitive', {
      description: 'True when the output is redacted (`sensitive: "output"`).',
    }),
  }),
});

builder.objectRef<StepRef<DoStepInfo>>('DoStep').implement({
  description: 'A `step.do` call: attempts, config and output.',
  interfaces: [WorkflowStep, NamedStep],
  fields: (t) => ({
    success: t.boolean({
      nullable: true,
      description: 'Whether the step succeeded; null while running.',
      resolve: (r) => r.step.success,
    }),
    attempts: t.field({
      type: [StepAttempt],
      description: 'Every attempt, first to last.',
      resolve: (r) => r.step.attempts.map((attempt, i) => ({ number: i + 1, attempt })),
    }),
    config: t.field({ type: StepConfig, description: 'The configuration it ran with.', resolve: (r) => r.step.config }),
    outputPreview: t.string({
      nullable: true,
      description: 'The output as logged: JSON text cut at 1024 characters + `[truncated output]`, or `[REDACTED]`.',
      resolve: (r) => r.step.outputPreview,
    }),
    output: t.field({
      type: 'JSON',
      nullable: true,
      description:
        'The full output, fetched from the step endpoint only when selected (`"[REDACTED]"` for sensitive steps).',
      ...declareSource({ kind: 'stepOutput' }),
      resolve: (r, _a, ctx) => fullOutput(ctx, r, 'step'),
    }),
    isSensitive: t.boolean({
      description: 'True when the output is redacted.',
      resolve: (r) => r.step.config.sensitive,
    }),
    isRollback: t.boolean({ description: 'True for a rollback handler run.', resolve: (r) => r.step.isRollback }),
  }),
});

builder.objectRef<StepRef<SleepStepInfo>>('SleepStep').implement({
  description: 'A `step.sleep` or `step.sleepUntil` call.',
  interfaces: [WorkflowStep, NamedStep],
  fields: (t) => ({
    wakesOn: t.field({
      type: 'DateTime',
      description:
        'When the sleep ends: while it sleeps, the planned wake-up time (a pause moves it later by the time spent paused); once it has ended, when it did.',
      resolve: (r) => r.step.end,
    }),
    finished: t.boolean({ description: 'True once the sleep is over.', resolve: (r) => r.step.finished }),
    error: t.field({
      type: WorkflowError,
      nullable: true,
      description: 'Why the sleep failed, if it did.',
      resolve: (r) => r.step.error,
    }),
  }),
});

builder.objectRef<StepRef<WaitForEventStepInfo>>('WaitForEventStep').implement({
  description: 'A `step.waitForEvent` call.',
  interfaces: [WorkflowStep, NamedStep],
  fields: (t) => ({
    eventType: t.string({
      nullable: true,
      description: 'The event type it waits for; null when the log does not say (Cloudflare marks it optional).',
      resolve: (r) => r.step.eventType,
    }),
    timesOutOn: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        'While it waits: when the wait times out if no event arrives (a pause moves it later by the time spent paused). Null once it has finished: `endedOn` says when.',
      resolve: (r) => (r.step.finished ? null : r.step.end),
    }),
    finished: t.boolean({
      description: 'True once an event arrived or the wait timed out.',
      resolve: (r) => r.step.finished,
    }),
    error: t.field({
      type: WorkflowError,
      nullable: true,
      description: 'Set when the wait timed out.',
      resolve: (r) => r.step.error,
    }),
    payloadPreview: t.string({
      nullable: true,
      description: 'The received event as logged (cut at 1024 characters + `[truncated output]`).',
      resolve: (r) => r.step.outputPreview,
    }),
    payload: t.field({
      type: 'JSON',
      nullable: true,
      description:
        'The received event in full, fetched from the step endpoint only when selected; null until it arrives.',
      ...declareSource({ kind: 'stepOutput' }),
      resolve: (r, _a, ctx) => fullOutput(ctx, r, 'waitForEvent'),
    }),
  }),
});

builder.objectRef<StepRef<TerminationStepInfo>>('TerminationStep').implement({
  description: 'The point where the instance was terminated.',
  interfaces: [WorkflowStep],
  fields: (t) => ({
    source: t.string({
      description: 'Who terminated it, such as `api` (`unknown` when the log does not say).',
      resolve: (r) => r.step.source,
    }),
  }),
});
