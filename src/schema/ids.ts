import { MAX_WORKFLOW_NAME_LENGTH, isWorkflowName } from '../identifiers.js';
import { badUserInput } from '../errors/coded-error.js';

/** Workflow names follow the contract (1..64 chars, letters, digits, `-`, `_`); anything else cannot exist. */
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
 * Instance ids: user ids follow the name rule, but cron-created ids contain spaces, `*`, `/`, `,` and `#`,
 * so only the length and the absence of control characters are checked here.
 */
export function checkInstanceId(id: string, argument = 'id'): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (id.length < 1 || id.length > 300 || /[\u0000-\u001f\u007f]/.test(id)) {
    throw badUserInput(`\`${argument}\` must be 1 to 300 characters without control characters`, { argument });
  }
  return id;
}

/**
 * The local part of a composite global id, `workflowName/rest`. Workflow names cannot contain `/`, so
 * splitting at the first `/` round-trips instance ids that contain `/` or spaces (cron ids).
 */
export function splitCompositeId(id: string, typename: string): { workflowName: string; rest: string } {
  const slash = id.indexOf('/');
  if (slash <= 0 || slash === id.length - 1) throw badUserInput(`Not a valid ${typename} id`, { argument: 'id' });
  return { workflowName: checkWorkflowName(id.slice(0, slash), 'id'), rest: id.slice(slash + 1) };
}
