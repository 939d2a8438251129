/**
 * The Workflows API's identifier rules (contract section 4.1), shared by the read API (which answers a
 * malformed name with `BAD_USER_INPUT`) and the write API (which answers with `InvalidInputError`).
 */

/** Workflow names, user-chosen instance ids and event types: letters, digits, `-`, `_`, not starting with `-`. */
export const NAME_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9-_]*$/;
export const MAX_WORKFLOW_NAME_LENGTH = 64;
export const MAX_INSTANCE_ID_LENGTH = 100;
export const MAX_EVENT_TYPE_LENGTH = 100;
export const MAX_STEP_NAME_LENGTH = 256;

/** Whether `value` follows the name rule and is 1 to `max` characters long. */
export function isName(value: string, max: number): boolean {
  return value.length >= 1 && value.length <= max && NAME_PATTERN.test(value);
}

export const isWorkflowName = (value: string): boolean => isName(value, MAX_WORKFLOW_NAME_LENGTH);
