/** Accounts → workflows → versions → instances. Data is partitioned by account id and never shared. */
import type { Clock } from './clock.js';
import { stableUuid } from './ids.js';
import type { AccountRecord, RetentionMs, VersionRecord, WorkflowRecord } from './types.js';

export interface WorkflowDefinition {
  className: string;
  scriptName: string;
  concurrency?: { limit?: number };
  defaultRetention?: RetentionMs;
  limits?: { steps?: number };
  schedules?: { cron: string }[];
}

export class Store {
  private readonly accounts = new Map<string, AccountRecord>();

  constructor(private readonly clock: Clock) {}

  account(accountId: string): AccountRecord | undefined {
    return this.accounts.get(accountId);
  }

  accountIds(): string[] {
    return [...this.accounts.keys()];
  }

  ensureAccount(accountId: string): { account: AccountRecord; created: boolean } {
    const existing = this.accounts.get(accountId);
    if (existing) return { account: existing, created: false };
    const account: AccountRecord = { id: accountId, workflows: new Map(), settings: {} };
    this.accounts.set(accountId, account);
    return { account, created: true };
  }

  /**
   * Creates the workflow or updates it (PUT semantics). A new version is added when the class, the script or
   * a versioned setting (concurrency, default retention, limits) changes; an identical PUT (a redeploy of the
   * same definition) keeps the current version. Schedules belong to the workflow, not to a version.
   * `at` lets seeding backdate it.
   */
  upsertWorkflow(account: AccountRecord, name: string, def: WorkflowDefinition, at = this.clock.now()): WorkflowRecord {
    let workflow = account.workflows.get(name);
    if (!workflow) {
      workflow = {
        id: stableUuid(account.id, 'workflow', name),
        accountId: account.id,
        name,
        className: def.className,
        scriptName: def.scriptName,
        createdOn: at,
        modifiedOn: at,
        triggeredOn: null,
        schedules: [],
        versions: [],
        instances: new Map(),
        nextSeq: 1,
      };
      account.workflows.set(name, workflow);
    }
    const current = workflow.versions.at(-1);
    const unchanged = current !== undefined && workflow.scriptName === def.scriptName && sameVersion(current, def);
    workflow.className = def.className;
    workflow.scriptName = def.scriptName;
    workflow.modifiedOn = at;
    workflow.schedules = def.schedules ?? [];
    if (unchanged) return workflow;
    const version: VersionRecord = {
      // Deleting and re-creating a workflow starts a fresh version history, so the index alone is not unique.
      id: stableUuid(account.id, 'version', name, String(workflow.createdOn), String(workflow.versions.length + 1)),
      workflowId: workflow.id,
      className: def.className,
      createdOn: at,
      modifiedOn: at,
      ...(def.concurrency ? { concurrency: def.concurrency } : {}),
      ...(def.defaultRetention ? { defaultRetention: def.defaultRetention } : {}),
      ...(def.limits ? { limits: def.limits } : {}),
    };
    workflow.versions.push(version);
    return workflow;
  }

  currentVersion(workflow: WorkflowRecord): VersionRecord {
    const version = workflow.versions.at(-1);
    if (!version) throw new Error(`workflow ${workflow.name} has no version`);
    return version;
  }

  versionOf(workflow: WorkflowRecord, versionId: string): VersionRecord | undefined {
    return workflow.versions.find((v) => v.id === versionId);
  }
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function sameVersion(version: VersionRecord, def: WorkflowDefinition): boolean {
  return (
    version.className === def.className &&
    sameJson(version.concurrency, def.concurrency) &&
    sameJson(version.defaultRetention, def.defaultRetention) &&
    sameJson(version.limits, def.limits)
  );
}
