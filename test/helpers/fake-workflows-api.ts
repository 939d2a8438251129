import { AbortedError, NotFoundError } from '../../src/upstream/errors.js';
import type {
  CallOptions,
  InstanceDetails,
  InstanceStatus,
  InstanceSummary,
  ListInstancesQuery,
  Page,
  StepInfo,
  WorkflowsApi,
} from '../../src/upstream/types.js';

/** One instance as `FakeWorkflowsApi` stores it. */
interface StoredInstance {
  status: InstanceStatus;
  createdOn: number;
  modifiedOn: number;
  steps: StepInfo[];
}

/** One call to `FakeWorkflowsApi`, as recorded. */
export interface RecordedApiCall {
  readonly method: 'listInstances' | 'getInstance';
  readonly instanceId?: string;
  readonly simple?: boolean;
  readonly page?: number;
  readonly priority?: string;
}

/**
 * A `WorkflowsApi` test double holding instances in memory: only the two reads the poll loop makes are
 * implemented (the rest throw). Every call is recorded; `hold()` makes calls wait until `release()` or
 * their AbortSignal fires, to observe aborts; `failNext` makes the next calls throw.
 */
export class FakeWorkflowsApi {
  readonly calls: RecordedApiCall[] = [];
  readonly instances = new Map<string, StoredInstance>();
  private clock = Date.parse('2026-01-01T00:00:00Z');
  private held: (() => void)[] | undefined;
  readonly failures: Error[] = [];
  /** `Date.now()` (fake time) when each call started. */
  readonly startedAt: number[] = [];
  /** How long each call takes, in (fake) ms. */
  latencyMs = 0;
  aborted = 0;

  constructor(readonly workflowName = 'order-fulfillment') {}

  readonly api: WorkflowsApi = {
    credential: { accountId: 'a'.repeat(32), apiToken: 'token', key: 'acct:hash', source: 'server' },
    listInstances: (workflowName, query, options) =>
      this.call({ method: 'listInstances', page: query?.page ?? 1, priority: options?.priority }, options, () =>
        this.list(workflowName, query),
      ),
    getInstance: (workflowName, instanceId, query, options) =>
      this.call(
        { method: 'getInstance', instanceId, simple: query?.simple ?? false, priority: options?.priority },
        options,
        () => this.details(workflowName, instanceId, query?.simple ?? false),
      ),
    listWorkflows: unsupported,
    getWorkflow: unsupported,
    listVersions: unsupported,
    getVersion: unsupported,
    getVersionGraph: unsupported,
    createInstance: unsupported,
    createInstances: unsupported,
    getInstanceStep: unsupported,
    changeInstanceStatus: unsupported,
    sendInstanceEvent: unsupported,
    deleteInstance: unsupported,
  };

  create(id: string, status: InstanceStatus = 'queued'): void {
    this.clock += 1000;
    this.instances.set(id, { status, createdOn: this.clock, modifiedOn: this.clock, steps: [] });
  }

  setStatus(id: string, status: InstanceStatus): void {
    const instance = this.existing(id);
    this.clock += 1000;
    instance.status = status;
    instance.modifiedOn = this.clock;
  }

  /** Adds a finished `do` step (a change that keeps the status). */
  addStep(id: string, name: string): void {
    const instance = this.existing(id);
    this.clock += 1000;
    const at = new Date(this.clock);
    instance.steps.push({
      type: 'do',
      name,
      baseName: name.replace(/-\d+$/, ''),
      count: 1,
      isRollback: false,
      start: at,
      end: at,
      success: true,
      outputPreview: null,
      config: { retries: { limit: 0, delay: 0, backoff: null }, timeout: 1000, sensitive: false },
      attempts: [{ start: at, end: at, success: true, error: null }],
    });
    instance.modifiedOn = this.clock;
  }

  count(filter: Partial<RecordedApiCall> = {}): number {
    return this.calls.filter((call) => Object.entries(filter).every(([k, v]) => call[k as keyof RecordedApiCall] === v))
      .length;
  }

  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const resume of held) resume();
  }

  private async call<T>(call: RecordedApiCall, options: CallOptions | undefined, answer: () => T): Promise<T> {
    this.calls.push(call);
    this.startedAt.push(Date.now());
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    if (this.held) {
      await new Promise<void>((resolve, reject) => {
        this.held?.push(resolve);
        options?.signal?.addEventListener('abort', () => {
          this.aborted++;
          reject(new AbortedError('aborted'));
        });
      });
    }
    const failure = this.failures.shift();
    if (failure) throw failure;
    return answer();
  }

  private existing(id: string): StoredInstance {
    const instance = this.instances.get(id);
    if (!instance) throw new Error(`no instance ${id}`);
    return instance;
  }

  private list(workflowName: string, query: ListInstancesQuery | undefined): Page<InstanceSummary> {
    if (workflowName !== this.workflowName) throw new NotFoundError('workflow not found', 'workflow');
    const perPage = query?.perPage ?? 50;
    const page = query?.page ?? 1;
    const all = [...this.instances.entries()].sort((a, b) => b[1].createdOn - a[1].createdOn);
    const items = all
      .slice((page - 1) * perPage, page * perPage)
      .map(([id, instance]) => summaryOf(workflowName, id, instance));
    const totalPages = Math.max(1, Math.ceil(all.length / perPage));
    return { items, info: { count: items.length, perPage, totalCount: all.length, page, totalPages, cursor: null } };
  }

  private details(workflowName: string, id: string, simple: boolean): InstanceDetails {
    if (workflowName !== this.workflowName) throw new NotFoundError('workflow not found', 'workflow');
    const instance = this.instances.get(id);
    if (!instance) throw new NotFoundError('instance not found', 'instance');
    return {
      id,
      workflowName,
      status: instance.status,
      params: {},
      trigger: 'api',
      versionId: 'v1',
      queuedOn: new Date(instance.createdOn),
      startedOn: null,
      endedOn: ['complete', 'errored', 'terminated'].includes(instance.status) ? new Date(instance.modifiedOn) : null,
      success: null,
      output: null,
      error: null,
      rollback: null,
      schedule: null,
      stepCount: instance.steps.length,
      simple,
      steps: simple ? [] : [...instance.steps],
    };
  }
}

function summaryOf(workflowName: string, id: string, instance: StoredInstance): InstanceSummary {
  return {
    id,
    workflowName,
    status: instance.status,
    versionId: 'v1',
    workflowId: 'w1',
    createdOn: new Date(instance.createdOn),
    modifiedOn: new Date(instance.modifiedOn),
    startedOn: null,
    endedOn: null,
    triggerSource: 'api',
  };
}

function unsupported(): never {
  throw new Error('not used by the poll loop');
}
