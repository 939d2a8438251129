import DataLoader from 'dataloader';
import { instanceKey, type FinishedInstanceCache } from './cache/finished-instances.js';
import { mapped, orNull } from './schema/upstream-errors.js';
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
 * clients as coded GraphQL errors (see `schema/upstream-errors.ts`). Lookups of unknown things resolve
 * to `null`.
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
  stepOutput(workflowName: string, instanceId: string, stepName: string, type: StepOutputType): Promise<StepOutput | null>;
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

/** Builds the loaders of one operation for one credential's API and its finished-instance cache. */
export function createLoaders(api: WorkflowsApi, finished: FinishedInstanceCache): Loaders {
  const lists = new Map<string, Promise<unknown>>();
  const summaries = new Map<string, InstanceSummary>();
  const details = new Map<string, DetailsEntry>();
  // Entries wait here until the flush; a queued entry is always fetched, even if invalidated meanwhile.
  let queue: { workflowName: string; instanceId: string; entry: DetailsEntry }[] = [];

  const workflows = new DataLoader<string, Workflow | null>((names) =>
    Promise.all(names.map((name) => orNull(() => api.getWorkflow(name)).catch(asError))),
  );
  const versions = new DataLoader<readonly [string, string], WorkflowVersion | null, string>(
    (keys) => Promise.all(keys.map(([wf, id]) => orNull(() => api.getVersion(wf, id)).catch(asError))),
    { cacheKeyFn: ([wf, id]) => join(wf, id) },
  );
  const graphs = new DataLoader<readonly [string, string], unknown, string>(
    (keys) =>
      Promise.all(keys.map(([wf, id]) => orNull(async () => (await api.getVersionGraph(wf, id)).graph).catch(asError))),
    { cacheKeyFn: ([wf, id]) => join(wf, id) },
  );
  const stepOutputs = new DataLoader<readonly [string, string, string, StepOutputType], StepOutput | null, string>(
    (keys) =>
      Promise.all(
        keys.map(([wf, id, name, type]) => orNull(() => api.getInstanceStep(wf, id, { name, type })).catch(asError)),
      ),
    { cacheKeyFn: (key) => join(...key) },
  );

  function memoList<T>(key: string, read: () => Promise<T>): Promise<T> {
    let pending = lists.get(key) as Promise<T> | undefined;
    if (!pending) {
      pending = mapped(read);
      lists.set(key, pending);
      // A failed list is not remembered: a later field of the same operation may try again.
      pending.catch(() => lists.delete(key));
    }
    return pending;
  }

  function forgetLists(prefix: string): void {
    for (const key of lists.keys()) if (key.startsWith(prefix)) lists.delete(key);
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

  function flush(): void {
    const batch = queue;
    queue = [];
    for (const { workflowName, instanceId, entry } of batch) {
      entry.dispatched = true;
      entry.settle(
        orNull(() => api.getInstance(workflowName, instanceId, { simple: !entry.full })).then((found) => {
          if (found) finished.offer(found);
          return found;
        }),
      );
    }
  }

  function settled(found: InstanceDetails): DetailsEntry {
    const entry = newEntry(!found.simple);
    entry.dispatched = true;
    entry.value = found;
    entry.settle(Promise.resolve(found));
    return entry;
  }

  return {
    invalidateInstance(workflowName, instanceId) {
      const key = instanceKey(workflowName, instanceId);
      details.delete(key);
      summaries.delete(key);
      finished.delete(workflowName, instanceId);
      // Step outputs are keyed by logged step name; a restart reuses those names for new values.
      stepOutputs.clearAll();
      // Counts and filtered lists of the workflow change with the instance's status.
      workflows.clear(workflowName);
      forgetLists(join('instances', workflowName, ''));
      forgetLists(join('workflows', ''));
    },
    invalidateWorkflow(workflowName) {
      workflows.clear(workflowName);
      forgetLists(join('instances', workflowName, ''));
      forgetLists(join('versions', workflowName, ''));
      forgetLists(join('workflows', ''));
    },
    primeInstance(found) {
      details.set(instanceKey(found.workflowName, found.id), settled(found));
      finished.offer(found);
    },
    peekStatus(workflowName, instanceId) {
      const key = instanceKey(workflowName, instanceId);
      return (
        details.get(key)?.value?.status ??
        summaries.get(key)?.status ??
        finished.get(workflowName, instanceId, false)?.status
      );
    },

    workflow: (name) => workflows.load(name),
    listWorkflows(query) {
      return memoList(join('workflows', JSON.stringify(query)), async () => {
        const page = await api.listWorkflows(query);
        for (const workflow of page.items) workflows.prime(workflow.name, workflow);
        return page;
      });
    },
    version: (workflowName, versionId) => versions.load([workflowName, versionId]),
    listVersions(workflowName, query) {
      return memoList(join('versions', workflowName, JSON.stringify(query)), async () => {
        const page = await api.listVersions(workflowName, query);
        for (const version of page.items) versions.prime([workflowName, version.id], version);
        return page;
      });
    },
    async latestVersion(workflowName) {
      const page = await memoList(join('versions', workflowName, 'latest'), () =>
        orNull(() => api.listVersions(workflowName, { page: 1, perPage: 1 })),
      );
      const latest = page?.items[0] ?? null;
      if (latest) versions.prime([workflowName, latest.id], latest);
      return latest;
    },
    versionGraph: (workflowName, versionId) => graphs.load([workflowName, versionId]),
    listInstances(workflowName, query) {
      return memoList(join('instances', workflowName, JSON.stringify(query)), async () => {
        const page = await api.listInstances(workflowName, query);
        for (const row of page.items) summaries.set(instanceKey(workflowName, row.id), row);
        return page;
      });
    },
    summary: (workflowName, instanceId) => summaries.get(instanceKey(workflowName, instanceId)),
    knownDetails: (workflowName, instanceId) => details.get(instanceKey(workflowName, instanceId))?.value ?? undefined,

    instance(workflowName, instanceId, { full }) {
      const key = instanceKey(workflowName, instanceId);
      const known = details.get(key);
      if (known && (known.full || !full)) return known.promise;
      if (known && !known.dispatched) {
        known.full = true;
        return known.promise;
      }
      const cached = finished.get(workflowName, instanceId, full);
      if (cached) {
        const entry = settled(cached);
        details.set(key, entry);
        return entry.promise;
      }
      const entry = newEntry(full);
      details.set(key, entry);
      queue.push({ workflowName, instanceId, entry });
      if (queue.length === 1) {
        // setImmediate rather than a microtask: every field of the current execution pass (siblings,
        // aliases, list items) gets to ask first, so `params` and `steps` of one instance cost one call.
        setImmediate(flush);
      }
      return entry.promise;
    },
    stepOutput: (workflowName, instanceId, stepName, type) => stepOutputs.load([workflowName, instanceId, stepName, type]),
  };

}
