/**
 * Root and nested lookups: one entity by its key, fetching in the same request what the selection on it
 * needs (read from the fields' declared sources), and `null` when it does not exist.
 */
import { isObjectType, type GraphQLObjectType } from 'graphql';
import type { Context } from '../context.js';
import { hasCode } from '../errors/coded-error.js';
import { instanceNeeds, sourceOf, startOf, workflowFieldRole } from '../graphql/field-source.js';
import type { Selection } from '../graphql/operation.js';
import { fieldsOf } from '../graphql/selection.js';
import { startKey } from './field-data.js';
import { Workflow, WorkflowInstance, type InstanceRef, type WorkflowRef } from './refs.js';

function objectType(selection: Selection, name: string): GraphQLObjectType {
  const type = selection.op.schema.getType(name);
  if (!isObjectType(type)) throw new TypeError(`${name} is not an object type of the schema`);
  return type;
}

/**
 * Looks an instance up for a root or workflow field, or a node id: null when it does not exist. Fetches
 * the step log in the same request when the selection has a field that needs it.
 */
export async function lookupInstance(
  ctx: Context,
  workflowName: string,
  instanceId: string,
  selection: Selection,
): Promise<InstanceRef | null> {
  const full = instanceNeeds(fieldsOf(selection, objectType(selection, WorkflowInstance.name))) === 'steps';
  const found = await ctx.loaders.instance(workflowName, instanceId, { full });
  return found ? { workflowName, instanceId } : null;
}

/**
 * `Query.workflow`: the workflow, or null when it does not exist. The workflow's own record is only fetched
 * when a selected field needs it (or nothing else can tell whether the workflow exists): the selected fields
 * that declare a prefetch (connections and lookups) start their upstream calls right away, in parallel, and
 * any of them answers "no such workflow". Their promises travel to the fields in the ref, so a dashboard
 * costs its list call and no more, in one round trip.
 */
export async function lookupWorkflow(ctx: Context, name: string, selection: Selection): Promise<WorkflowRef | null> {
  const started = new Map<string, Promise<unknown>>();
  const ref: WorkflowRef = { name, started };
  let needsRecord = false;
  for (const field of fieldsOf(selection, objectType(selection, Workflow.name))) {
    // Refused arguments fail that field before it runs; it neither needs nor proves anything.
    if (field.args === null) continue;
    const source = sourceOf(field.def);
    const start = startOf(source);
    if (start) {
      const key = startKey(field.name, field.args);
      if (!started.has(key))
        started.set(key, start(ref, field.args, ctx, { op: selection.op, sets: field.selectionSets }));
    } else if (workflowFieldRole(source) === 'record') {
      needsRecord = true;
    }
  }
  const probes = [...started.values()];
  if (needsRecord || probes.length === 0) probes.push(ctx.loaders.workflow(name));
  const results = await Promise.allSettled(probes);
  if (ctx.loaders.workflowMissing(name)) return null;
  // An upstream answer (or an upstream failure, which the fields report at their own paths) settles it;
  // when every probe was refused before reaching upstream, only the workflow's record can tell.
  if (results.some((r) => r.status === 'fulfilled' || !hasCode(r.reason, 'BAD_USER_INPUT'))) return ref;
  return (await ctx.loaders.workflow(name)) ? ref : null;
}
