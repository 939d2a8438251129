import DataLoader from 'dataloader';
import { instanceKey, type FinishedInstanceCache } from './cache/finished-instances.js';
import { mapped, orNull } from './errors/from-upstream.js';
import { NotFoundError } from './upstream/errors.js';
import type {
  InstanceDetails,
  InstanceStatus,
  InstanceSummary,
  ListInstancesQuery,
  Page,
  StepOutput,
  Workflow,
  WorkflowsApi,
  WorkflowVersion,
} from './upstream/types.js';

export type StepOutputType = 'step' | 'waitForEvent';

/**
 * Per-operation data access. Every upstream read of the read API goes through here, so that one operation
 * never asks the same thing twice, list results answer later lookups, and upstream failures reach
 * clients as coded GraphQL errors (see `errors/from-upstream.ts`). Lookups of unknown things resolve
 * to `null`. Methods are called on the object (`ctx.loaders.instance(...)`), never detached from it.
 */
export interface Loaders {
  /** Forget everything this operation and the cross-request cache know about one instance (after a mutation). */
  invalidateInstance(workflowName: string, instanceId: string): void;
  /** Forget the workflow's cached data and instance lists (after a create). */
  invalidateWorkflow(workflowName: string): void;
  /** Seed details fetched elsewhere (subscription poll, mutation) so resolvers need no upstream call for them. Overwrites. */
  primeInstance(details: InstanceDetails): void;
  /** The instance's status if already known without an upstream call (this operation's loaders or the finished-instance cache), else undefined. */
  peekStatus(workflowName: string, instanceId: string): InstanceStatus | undefined;

  /**
   * True once an upstream call of this operation (a workflow, list or instance read) answered that the
   * workflow does not exist. Lets `Query.workflow` answer null from whichever of its children's calls ran.
   */
  workflowMissing(name: string): boolean;
  workflow(name: string): Promise<Workflow | null>;
  /** One page of the workflow list; its rows answer later {@link Loaders.workflow} calls. */
  listWorkflows(query: { page: number; perPage: number; search?: string }): Promise<Page<Workflow>>;
  version(workflowName: string, versionId: string): Promise<WorkflowVersion | null>;
  listVersions(workflowName: string, query: { page: number; perPage: number }): Promise<Page<WorkflowVersion>>;
  /** The newest version (the versions list is newest first), or null when the workflow has none or is unknown. */
  latestVersion(workflowName: string): Promise<WorkflowVersion | null>;
  /** The version's step graph as Cloudflare describes it, or null. */
  versionGraph(workflowName: string, versionId: string): Promise<unknown>;
  /** One page of a workflow's instances; its rows answer {@link Loaders.summary}. */
  listInstances(workflowName: string, query: ListInstancesQuery): Promise<Page<InstanceSummary>>;
  /** The list row of an instance, when a list in this operation returned it. */
  summary(workflowName: string, instanceId: string): InstanceSummary | undefined;
  /** Details already loaded (or primed) in this operation, if any; never calls upstream. */
  knownDetails(workflowName: string, instanceId: string): InstanceDetails | undefined;
  /**
   * Instance details. `full` asks for the step log; without it `simple=true` is used. Requests made in the
   * same turn of the event loop are merged: if any of them needs the step log, one full fetch answers all.
   */
  instance(workflowName: string, instanceId: string, options: { full: boolean }): Promise<InstanceDetails | null>;
  /** The full output of one step (`step` for `do` steps, `waitForEvent` for events), or null. */
  stepOutput(
    workflowName: string,
    instanceId: string,
    stepName: string,
    type: StepOutputType,
  ): Promise<StepOutput | null>;
}

interface DetailsEntry {
  full: boolean;
  dispatched: boolean;
  value: InstanceDetails | null | undefined;
  readonly promise: Promise<InstanceDetails | null>;
  readonly settle: (value: Promise<InstanceDetails | null>) => void;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** Keys with a separator that cannot appear in names or ids (no control characters there). */
const join = (...parts: string[]): string => parts.join('\u0000');

/** Runs `read` in the same way for every key, each failure becoming that key's value (DataLoader's contract). */
const each = <K, V>(keys: readonly K[], read: (key: K) => Promise<V>): Promise<(V | Error)[]> =>
  Promise.all(keys.map((key) => read(key).catch(asError)));

/**
 * Builds the loaders of one operation for one credential's API and its finished-instance cache. The
 * DataLoaders and maps are created on first use: most operations touch one or two of them, and a
 * subscription keeps its context (and so its loaders) for as long as it lives; a class, so that the methods are
 * shared and one operation's loaders are one object (closures per operation cost 2.5 KB per subscription).
 */
export function createLoaders(api: WorkflowsApi, finished: FinishedInstanceCache): Loaders {
  return new OperationLoaders(api, finished);
}

class OperationLoaders implements Loaders {
  private lists: Map<string, Promise<unknown>> | undefined;
  private summaries: Map<string, InstanceSummary> | undefined;
  private details: Map<string, DetailsEntry> | undefined;
  private missing: Set<string> | undefined;
  // Entries wait here until the flush; a queued entry is always fetched, even if invalidated meanwhile.
  private queue: { workflowName: string; instanceId: string; entry: DetailsEntry }[] = [];

  private workflows: DataLoader<string, Workflow | null> | undefined;
  private versions: DataLoader<readonly [string, string], WorkflowVersion | null, string> | undefined;
  private graphs: DataLoader<readonly [string, string], unknown, string> | undefined;
  private stepOutputs:
    DataLoader<readonly [string, string, string, StepOutputType], StepOutput | null, string> | undefined;

  constructor(
    private readonly api: WorkflowsApi,
    private readonly finished: FinishedInstanceCache,
  ) {}

  /** Remembers a "no such workflow" answer to any read about `workflowName`, then fails as the read did. */
  private noting<T>(workflowName: string, read: () => Promise<T>): () => Promise<T> {
    return async () => {
      try {
        return await read();
      } catch (error) {
        if (error instanceof NotFoundError && error.resource === 'workflow')
          (this.missing ??= new Set()).add(workflowName);
        throw error;
      }
    };
  }

  private workflowLoader(): DataLoader<string, Workflow | null> {
    const { api } = this;
    return (this.workflows ??= new DataLoader((names) =>
      each(names, (name) => orNull(this.noting(name, () => api.getWorkflow(name)))),
    ));
  }

  private versionLoader(): DataLoader<readonly [string, string], WorkflowVersion | null, string> {
    const { api } = this;
    return (this.versions ??= new DataLoader((keys) => each(keys, ([wf, id]) => orNull(() => api.getVersion(wf, id))), {
      cacheKeyFn: ([wf, id]) => join(wf, id),
    }));
  }

  private graphLoader(): DataLoader<readonly [string, string], unknown, string> {
    const { api } = this;
    return (this.graphs ??= new DataLoader(
      (keys) => each(keys, ([wf, id]) => orNull(async () => (await api.getVersionGraph(wf, id)).graph)),
      { cacheKeyFn: ([wf, id]) => join(wf, id) },
    ));
  }

  private stepOutputLoader(): DataLoader<readonly [string, string, string, StepOutputType], StepOutput | null, string> {
    const { api } = this;
    return (this.stepOutputs ??= new DataLoader(
      (keys) => each(keys, ([wf, id, name, type]) => orNull(() => api.getInstanceStep(wf, id, { name, type }))),
      { cacheKeyFn: (key) => join(...key) },
    ));
  }

  private memoList<T>(key: string, read: () => Promise<T>): Promise<T> {
    const memo = (this.lists ??= new Map());
    let pending = memo.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = mapped(read);
      memo.set(key, pending);
      // A failed list is not remembered: a later field of the same operation may try again.
      pending.catch(() => memo.delete(key));
    }
    return pending;
  }

  private forgetLists(prefix: string): void {
    if (!this.lists) return;
    for (const key of this.lists.keys()) if (key.startsWith(prefix)) this.lists.delete(key);
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    for (const { entry } of batch) entry.dispatched = true;
    const { api, finished } = this;
    const since = finished.mark();
    // Another replica may have fetched some (with REDIS_URL): one round trip asks for the whole batch, and
    // upstream is asked only for the rest.
    const shared = finished.shared(
      batch.map(({ workflowName, instanceId, entry }) => ({ workflowName, instanceId, full: entry.full })),
    );
    batch.forEach(({ workflowName, instanceId, entry }, i) => {
      entry.settle(
        orNull(
          this.noting(workflowName, async () => {
            const kept = (await shared)[i];
            if (kept) return kept;
            const found = await api.getInstance(workflowName, instanceId, { simple: !entry.full });
            finished.offer(found, since);
            return found;
          }),
        ),
      );
    });
  }

  invalidateInstance(workflowName: string, instanceId: string): void {
    const key = instanceKey(workflowName, instanceId);
    this.details?.delete(key);
    this.summaries?.delete(key);
    this.finished.delete(workflowName, instanceId);
    // Step outputs are keyed by logged step name; a restart reuses those names for new values.
    this.stepOutputs?.clearAll();
    // Counts and filtered lists of the workflow change with the instance's status.
    this.workflows?.clear(workflowName);
    this.forgetLists(join('instances', workflowName, ''));
    this.forgetLists(join('workflows', ''));
  }

  invalidateWorkflow(workflowName: string): void {
    this.workflows?.clear(workflowName);
    this.missing?.delete(workflowName);
    this.forgetLists(join('instances', workflowName, ''));
    this.forgetLists(join('versions', workflowName, ''));
    this.forgetLists(join('workflows', ''));
  }

  primeInstance(found: InstanceDetails): void {
    (this.details ??= new Map()).set(instanceKey(found.workflowName, found.id), settled(found));
    this.finished.offer(found);
  }

  peekStatus(workflowName: string, instanceId: string): InstanceStatus | undefined {
    const key = instanceKey(workflowName, instanceId);
    return (
      this.details?.get(key)?.value?.status ??
      this.summaries?.get(key)?.status ??
      this.finished.get(workflowName, instanceId, false)?.status
    );
  }

  workflowMissing(name: string): boolean {
    return this.missing?.has(name) ?? false;
  }

  workflow(name: string): Promise<Workflow | null> {
    return this.workflowLoader().load(name);
  }

  listWorkflows(query: { page: number; perPage: number; search?: string }): Promise<Page<Workflow>> {
    return this.memoList(join('workflows', JSON.stringify(query)), async () => {
      const page = await this.api.listWorkflows(query);
      const loader = this.workflowLoader();
      for (const workflow of page.items) loader.prime(workflow.name, workflow);
      return page;
    });
  }

  version(workflowName: string, versionId: string): Promise<WorkflowVersion | null> {
    return this.versionLoader().load([workflowName, versionId]);
  }

  listVersions(workflowName: string, query: { page: number; perPage: number }): Promise<Page<WorkflowVersion>> {
    return this.memoList(join('versions', workflowName, JSON.stringify(query)), async () => {
      const page = await this.noting(workflowName, () => this.api.listVersions(workflowName, query))();
      const loader = this.versionLoader();
      for (const version of page.items) loader.prime([workflowName, version.id], version);
      return page;
    });
  }

  async latestVersion(workflowName: string): Promise<WorkflowVersion | null> {
    const page = await this.memoList(join('versions', workflowName, 'latest'), () =>
      orNull(this.noting(workflowName, () => this.api.listVersions(workflowName, { page: 1, perPage: 1 }))),
    );
    const latest = page?.items[0] ?? null;
    if (latest) this.versionLoader().prime([workflowName, latest.id], latest);
    return latest;
  }

  versionGraph(workflowName: string, versionId: string): Promise<unknown> {
    return this.graphLoader().load([workflowName, versionId]);
  }

  listInstances(workflowName: string, query: ListInstancesQuery): Promise<Page<InstanceSummary>> {
    return this.memoList(join('instances', workflowName, JSON.stringify(query)), async () => {
      const page = await this.noting(workflowName, () => this.api.listInstances(workflowName, query))();
      const rows = (this.summaries ??= new Map());
      for (const row of page.items) rows.set(instanceKey(workflowName, row.id), row);
      return page;
    });
  }

  summary(workflowName: string, instanceId: string): InstanceSummary | undefined {
    return this.summaries?.get(instanceKey(workflowName, instanceId));
  }

  knownDetails(workflowName: string, instanceId: string): InstanceDetails | undefined {
    return this.details?.get(instanceKey(workflowName, instanceId))?.value ?? undefined;
  }

  instance(workflowName: string, instanceId: string, { full }: { full: boolean }): Promise<InstanceDetails | null> {
    const key = instanceKey(workflowName, instanceId);
    const entries = (this.details ??= new Map());
    const known = entries.get(key);
    if (known && (known.full || !full)) return known.promise;
    if (known && !known.dispatched) {
      known.full = true;
      return known.promise;
    }
    const cached = this.finished.get(workflowName, instanceId, full);
    if (cached) {
      const entry = settled(cached);
      entries.set(key, entry);
      return entry.promise;
    }
    const entry = newEntry(full);
    entries.set(key, entry);
    this.queue.push({ workflowName, instanceId, entry });
    if (this.queue.length === 1) {
      // setImmediate rather than a microtask: every field of the current execution pass (siblings,
      // aliases, list items) gets to ask first, so `params` and `steps` of one instance cost one call.
      setImmediate(() => this.flush());
    }
    return entry.promise;
  }

  stepOutput(
    workflowName: string,
    instanceId: string,
    stepName: string,
    type: StepOutputType,
  ): Promise<StepOutput | null> {
    return this.stepOutputLoader().load([workflowName, instanceId, stepName, type]);
  }
}

function newEntry(full: boolean): DetailsEntry {
  let settle!: (value: Promise<InstanceDetails | null>) => void;
  const promise = new Promise<InstanceDetails | null>((resolve) => {
    settle = resolve;
  });
  const entry: DetailsEntry = { full, dispatched: false, value: undefined, promise, settle };
  promise.then(
    (value) => {
      entry.value = value;
    },
    () => undefined,
  );
  return entry;
}

function settled(found: InstanceDetails): DetailsEntry {
  const entry = newEntry(!found.simple);
  entry.dispatched = true;
  entry.value = found;
  entry.settle(Promise.resolve(found));
  return entry;
}
