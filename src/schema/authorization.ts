import { denial } from '../auth/authorize.js';
import type { Context } from '../context.js';
import { codedError } from '../errors/coded-error.js';
import { ForbiddenError } from '../errors/mutation-errors.js';

/**
 * The schema's checks of what the caller may do (see `auth/authorize.ts`), made at the top of the root
 * fields and node lookups, before any upstream call: a refused field costs nothing.
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
