import { denial } from '../auth/authorize.js';
import type { Context } from '../context.js';
import { codedError } from '../errors/coded-error.js';
import { ForbiddenError } from '../errors/mutation-errors.js';

/**
 * The schema's checks of what the caller may do (see `auth/authorize.ts`), made before any upstream call, so a
 * refused field costs nothing: at the top of the root fields and node lookups, and again in every resolver that
 * reads a workflow's data (`schema/field-data.ts`, step outputs, version graphs), so that data reached another
 * way (a mutation's payload, a nested link) needs `workflows:read` on its workflow too. Key fields stay free.
 */

/** Queries and subscriptions: refuses with a `FORBIDDEN` error on the field when `workflows:read` or the workflow is missing. */
export function authorizeRead(ctx: Context, workflowName?: string): void {
  const denied = denial(ctx.principal, 'workflows:read', workflowName);
  if (denied) {
    throw codedError(denied.message, 'FORBIDDEN', {
      requiredScope: denied.requiredScope,
      workflowName: denied.workflowName,
    });
  }
}

/** Mutations: throws the `ForbiddenError` member of the mutation's result when `workflows:write` or the workflow is missing. */
export function authorizeWrite(ctx: Context, workflowName: string): void {
  const denied = denial(ctx.principal, 'workflows:write', workflowName);
  if (denied) throw new ForbiddenError(denied.message, denied.requiredScope, workflowName);
}
