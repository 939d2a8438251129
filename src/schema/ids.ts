import {
  MAX_ADDRESSABLE_INSTANCE_ID_LENGTH,
  MAX_WORKFLOW_NAME_LENGTH,
  isAddressableInstanceId,
  isWorkflowName,
  splitCompositeId as splitComposite,
} from '../identifiers.js';
import { badUserInput } from '../errors/coded-error.js';

/** Workflow names follow docs/upstream-contract.md §4.1 (1..64 chars, letters, digits, `-`, `_`); anything else cannot exist. */
export function checkWorkflowName(name: string, argument = 'workflowName'): string {
  if (!isWorkflowName(name)) {
    throw badUserInput(
      `\`${argument}\` must be 1 to ${MAX_WORKFLOW_NAME_LENGTH} letters, digits, '-' or '_', starting with a letter, digit or '_' (got ${JSON.stringify(name.slice(0, 100))})`,
      { argument },
    );
  }
  return name;
}

/**
 * Instance ids: any id the upstream can have handed out, cron-created ids with spaces, `*`, `/`, `,` and `#`
 * included (`ADDRESSABLE_INSTANCE_ID` in identifiers.ts); anything else cannot exist.
 */
export function checkInstanceId(id: string, argument = 'id'): string {
  if (!isAddressableInstanceId(id)) {
    throw badUserInput(
      `\`${argument}\` must be 1 to ${MAX_ADDRESSABLE_INSTANCE_ID_LENGTH} letters, digits, spaces or ',', '*', '/', '#', '-', '_' (got ${JSON.stringify(id.slice(0, 100))})`,
      { argument },
    );
  }
  return id;
}

/** The local part of a composite global id, `workflowName/rest`, with the workflow name checked. */
export function splitCompositeId(id: string, typename: string): { workflowName: string; rest: string } {
  const parts = splitComposite(id);
  if (!parts) throw badUserInput(`Not a valid ${typename} id`, { argument: 'id' });
  return { workflowName: checkWorkflowName(parts.workflowName, 'id'), rest: parts.rest };
}
