import { workflowAllowed, type Principal, type Scope } from './principal.js';

/** Why a principal may not do something: the scope it lacks, or the workflow outside its allowlist. */
export interface Denial {
  readonly requiredScope: Scope | null;
  readonly workflowName: string | null;
  /** For the client: names the scope or the workflow, never the credential. */
  readonly message: string;
}

/**
 * Whether `principal` may use `scope`, on `workflowName` when one is given: undefined when it may, the
 * {@link Denial} otherwise. The schema asks before any upstream call, so a refusal costs nothing.
 */
export function denial(principal: Principal, scope: Scope, workflowName?: string): Denial | undefined {
  if (!principal.scopes.has(scope)) {
    return {
      requiredScope: scope,
      workflowName: workflowName ?? null,
      message: `This credential lacks the \`${scope}\` scope this operation needs.`,
    };
  }
  if (workflowName !== undefined && !workflowAllowed(principal, workflowName)) {
    return {
      requiredScope: null,
      workflowName,
      message: `This credential may not access workflow ${JSON.stringify(workflowName)}.`,
    };
  }
  return undefined;
}
