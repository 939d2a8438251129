/**
 * What each field of the schema costs in upstream requests, as the resolvers and loaders behave (see
 * `loaders.ts` and `schema/*.ts`). The estimator reads these tables; a unit test checks that they name
 * every field of these types, so a new field cannot silently cost nothing.
 */
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../schema/pagination.js';

/** Steps assumed per instance: the step log's length is unknown before it is fetched. */
export const STEPS_PER_INSTANCE = 10;

/**
 * Fields of `Workflow`:
 * - `free`: from the key (the name);
 * - `data`: the workflow's own record, which a node fetch or a list row already holds, which `workflow(name)`
 *   fetches only when such a field is selected (see `estimate.ts`), and which costs one request (shared
 *   by all such fields) where the workflow was only referenced;
 * - the rest start lookups or lists of their own.
 */
export const WORKFLOW_FIELDS = {
  id: 'free',
  name: 'free',
  workflowId: 'data',
  className: 'data',
  scriptName: 'data',
  createdOn: 'data',
  modifiedOn: 'data',
  triggeredOn: 'data',
  scriptDeleted: 'data',
  instanceCounts: 'data',
  schedules: 'data',
  latestVersion: 'latestVersion',
  versions: 'versionList',
  instances: 'instanceList',
  instance: 'instanceLookup',
} as const satisfies Record<string, string>;

/**
 * Fields of `WorkflowInstance`:
 * - `free`: from the key, or never fetched (`modifiedOn` comes from a list row or is null);
 * - `summary`: a list row answers them, otherwise the details request does;
 * - `details`: the details request (`simple=true`), shared by every such field of the instance;
 * - `steps`: the full details request, which also answers `summary` and `details` in the same request;
 * - `workflow`, `version`: references to other objects (`version` first needs the version id: `summary`).
 */
export const INSTANCE_FIELDS = {
  id: 'free',
  instanceId: 'free',
  workflowName: 'free',
  modifiedOn: 'free',
  workflow: 'workflow',
  status: 'summary',
  isTerminal: 'summary',
  canPause: 'summary',
  canResume: 'summary',
  canTerminate: 'summary',
  canRestart: 'summary',
  createdOn: 'summary',
  startedOn: 'summary',
  endedOn: 'summary',
  trigger: 'summary',
  version: 'version',
  queuedOn: 'details',
  params: 'details',
  output: 'details',
  error: 'details',
  success: 'details',
  schedule: 'details',
  rollback: 'details',
  stepCount: 'details',
  steps: 'steps',
} as const satisfies Record<string, string>;

/**
 * Fields of `WorkflowVersion`: `data` is the version record (held already when the version came from a
 * list, `latestVersion` or a node fetch; one request when reached from an instance); `graph` is always
 * a request of its own.
 */
export const VERSION_FIELDS = {
  id: 'free',
  versionId: 'free',
  workflow: 'workflow',
  className: 'data',
  language: 'data',
  hasDag: 'data',
  createdOn: 'data',
  modifiedOn: 'data',
  concurrencyLimit: 'data',
  stepLimit: 'data',
  successRetentionMs: 'data',
  errorRetentionMs: 'data',
  graph: 'graph',
} as const satisfies Record<string, string>;

/** Step fields that fetch the full value from the step endpoint: one request per step. The others are free. */
export const STEP_OUTPUT_FIELDS: Readonly<Record<string, Readonly<Record<string, 'step' | 'waitForEvent'>>>> = {
  DoStep: { output: 'step' },
  WaitForEventStep: { payload: 'waitForEvent' },
};

/** Root fields and the rule that prices each. */
export const QUERY_FIELDS = {
  workflow: 'workflowLookup',
  workflows: 'workflowList',
  instance: 'instanceLookup',
  node: 'node',
  nodes: 'nodes',
} as const satisfies Record<string, string>;

/** Mutations: `createInstances` costs its batches, every other one request; each returns instances to price. */
export const MUTATION_FIELDS = {
  createInstance: 'create',
  createInstances: 'createBatch',
  pauseInstance: 'change',
  resumeInstance: 'change',
  terminateInstance: 'change',
  restartInstance: 'change',
  sendInstanceEvent: 'change',
} as const satisfies Record<string, string>;

/**
 * Subscriptions, priced once for their first event: the poll that feeds them is one request, and the
 * event's instance comes with the details that poll fetched (`instance`), or, for a workflow's
 * instances, with one details request when more than its key is selected (`workflowInstances`).
 */
export const SUBSCRIPTION_FIELDS = {
  instanceStatusChanged: 'instance',
  instanceUpdated: 'instance',
  workflowInstancesChanged: 'workflowInstances',
} as const satisfies Record<string, string>;

/** The step types and the connection types whose `nodes`/`edges.node` hold domain objects. */
export const STEP_TYPES = ['DoStep', 'SleepStep', 'WaitForEventStep', 'TerminationStep'] as const;
export const CONNECTION_TYPES = [
  'WorkflowConnection',
  'WorkflowInstanceConnection',
  'WorkflowVersionConnection',
] as const;

/** Types the tables above describe field by field (the unit test checks them against the schema). */
export const PRICED_TYPES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  Query: QUERY_FIELDS,
  Mutation: MUTATION_FIELDS,
  Subscription: SUBSCRIPTION_FIELDS,
  Workflow: WORKFLOW_FIELDS,
  WorkflowInstance: INSTANCE_FIELDS,
  WorkflowVersion: VERSION_FIELDS,
};

/**
 * Upstream page requests one connection field needs: 1 for a first page; up to 2 after a cursor (the
 * window may straddle two upstream pages); up to 3 for `last` without `before` (the total first).
 */
export function listRequests(args: { after?: unknown; before?: unknown; last?: unknown }): number {
  if (args.last != null && args.before == null) return 3;
  if (args.after != null || args.before != null) return 2;
  return 1;
}

/**
 * Items a connection field returns at most: `first` or `last`, else the default page size. Undefined
 * when the arguments are refused before any request (out of range, or both given).
 */
export function pageSize(args: { first?: unknown; last?: unknown }): number | undefined {
  const first = typeof args.first === 'number' ? args.first : undefined;
  const last = typeof args.last === 'number' ? args.last : undefined;
  if (first !== undefined && last !== undefined) return undefined;
  const size = first ?? last ?? DEFAULT_PAGE_SIZE;
  return size < 0 || size > MAX_PAGE_SIZE ? undefined : size;
}
