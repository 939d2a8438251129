import {
  MAX_ADDRESSABLE_INSTANCE_ID_LENGTH,
  MAX_WORKFLOW_NAME_LENGTH,
  isAddressableInstanceId,
  isVersionId,
  isWorkflowName,
  splitCompositeId as splitComposite,
} from '../identifiers.js';
import { decodeGlobalID } from '@pothos/plugin-relay';
import { badUserInput } from '../errors/coded-error.js';
import { MAX_PAGE_SIZE } from '../upstream/limits.js';

/**
 * Most ids one `nodes` field may ask for: as many as a page holds (`first`), so that one field's list stays as
 * large as a page's. More are refused before any id is decoded or looked up.
 */
export const MAX_NODE_IDS = MAX_PAGE_SIZE;

/**
 * Most representations one `_entities` field may name. A federation gateway sends every entity of one type
 * that one step of its plan needs in one list (a page of orders, each with its fulfillment); distinct ones are
 * bounded by the cost limit, and this bounds the repeated ones, which cost nothing upstream but still resolve.
 */
export const MAX_REPRESENTATIONS = 1_000;

/** Refuses an `_entities(representations:)` list longer than {@link MAX_REPRESENTATIONS}. */
export function checkRepresentationCount(count: number): void {
  if (count > MAX_REPRESENTATIONS) {
    throw badUserInput(`\`representations\` may hold at most ${MAX_REPRESENTATIONS} entities (got ${count}).`, {
      argument: 'representations',
    });
  }
}

/** Refuses a `nodes(ids:)` list longer than {@link MAX_NODE_IDS}. */
export function checkNodeIdCount(count: number): void {
  if (count > MAX_NODE_IDS) {
    throw badUserInput(`\`ids\` may hold at most ${MAX_NODE_IDS} ids (got ${count}).`, { argument: 'ids' });
  }
}

/**
 * The object types that implement `Node`, the only type names a global id may carry (test/unit/node-ids.test.ts
 * compares this list with the schema). Any other name (`Query`, an interface, a name no type has, `__proto__`)
 * made Pothos throw an uncoded error ("Foo has not been implemented").
 */
export const NODE_TYPENAMES: ReadonlySet<string> = new Set(['Workflow', 'WorkflowVersion', 'WorkflowInstance']);

/** Pothos' global id format (base64 of `Typename:id`); a malformed id is the client's mistake, so it carries a code. */
export function decodeNodeId(globalID: string): { typename: string; id: string } {
  let decoded: { typename: string; id: string };
  try {
    decoded = decodeGlobalID(globalID);
  } catch {
    throw badUserInput(`Invalid global ID: ${globalID.slice(0, 100)}`);
  }
  if (!NODE_TYPENAMES.has(decoded.typename)) throw badUserInput(`Invalid global ID: ${globalID.slice(0, 100)}`);
  return decoded;
}

/**
 * Where a checked value comes from: the argument `extensions.argument` names, and how the message names the value.
 * A plain string is an argument of that name.
 */
export type Place = string | { readonly argument: string; readonly label: string };

const argumentOf = (at: Place): string => (typeof at === 'string' ? at : at.argument);
const labelOf = (at: Place): string => (typeof at === 'string' ? `\`${at}\`` : at.label);

/** A key field of an `_entities` representation: refused under the argument `representations`. */
export const representationPlace = (field: string): Place => ({
  argument: 'representations',
  label: `A representation's \`${field}\``,
});

/** Workflow names follow docs/upstream-contract.md §4.1 (1..64 chars, letters, digits, `-`, `_`); anything else cannot exist. */
export function checkWorkflowName(name: string, at: Place = 'workflowName'): string {
  if (!isWorkflowName(name)) {
    throw badUserInput(
      `${labelOf(at)} must be 1 to ${MAX_WORKFLOW_NAME_LENGTH} letters, digits, '-' or '_', starting with a letter, digit or '_' (got ${JSON.stringify(name.slice(0, 100))})`,
      { argument: argumentOf(at) },
    );
  }
  return name;
}

/**
 * Instance ids: any id the upstream can have handed out, cron-created ids with spaces, `*`, `/`, `,` and `#`
 * included (`ADDRESSABLE_INSTANCE_ID` in identifiers.ts); anything else cannot exist.
 */
export function checkInstanceId(id: string, at: Place = 'id'): string {
  if (!isAddressableInstanceId(id)) {
    throw badUserInput(
      `${labelOf(at)} must be 1 to ${MAX_ADDRESSABLE_INSTANCE_ID_LENGTH} letters, digits, spaces or ',', '*', '/', '#', '-', '_' (got ${JSON.stringify(id.slice(0, 100))})`,
      { argument: argumentOf(at) },
    );
  }
  return id;
}

/** Version ids are uuids (`VERSION_ID` in identifiers.ts); anything else cannot exist, so it is never sent upstream. */
export function checkVersionId(id: string, at: Place = 'versionId'): string {
  if (!isVersionId(id)) {
    throw badUserInput(`${labelOf(at)} must be a uuid (got ${JSON.stringify(id.slice(0, 100))})`, {
      argument: argumentOf(at),
    });
  }
  return id;
}

/** The local part of a composite global id, `workflowName/rest`, with the workflow name checked. */
export function splitCompositeId(id: string, typename: string): { workflowName: string; rest: string } {
  const parts = splitComposite(id);
  if (!parts) throw badUserInput(`Not a valid ${typename} id`, { argument: 'id' });
  return { workflowName: checkWorkflowName(parts.workflowName, 'id'), rest: parts.rest };
}
