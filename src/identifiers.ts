/**
 * The Workflows API's identifier rules (docs/upstream-contract.md §3, §4.1), as data plus predicates. This is
 * their only home: the read API (`schema/ids.ts`, `BAD_USER_INPUT`), the write API
 * (`mutations/validation.ts`, `InvalidInputError`), the emulator (`emulator/validation.ts`, a Cloudflare
 * error envelope) and the cost estimate all ask these predicates and differ only in how they report a refusal.
 *
 * There are two sides:
 * - the write side is what Cloudflare accepts for a new thing: {@link WORKFLOW_NAME}, {@link NEW_INSTANCE_ID},
 *   {@link EVENT_TYPE}, {@link STEP_NAME};
 * - the read side is anything Cloudflare could have handed out, which a caller may name to read or change an
 *   existing thing: {@link ADDRESSABLE_INSTANCE_ID} (wider than the write side, see there), workflow names
 *   (the write rule, since every workflow was created through it) and {@link VERSION_ID}.
 *
 * Lengths count UTF-16 code units (`String.length`); every rule's values are ASCII-only apart from step names.
 */

/** One identifier rule: 1 to `maxLength` characters, matching `pattern` as a whole, and not `reserved`. */
export interface IdentifierRule {
  readonly maxLength: number;
  /** Anchored pattern of the allowed characters (and, for names, of the first character). */
  readonly pattern: RegExp;
  /** Values that fit the length and the pattern but are kept for the system. */
  readonly reserved?: RegExp;
}

/** Why a value breaks a rule, so that each caller can word its own message. */
export type IdentifierRefusal = 'length' | 'characters' | 'reserved';

/** Workflow names, user-chosen instance ids and event types: letters, digits, `-`, `_`, not starting with `-`. */
export const NAME_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9-_]*$/;

/**
 * Instance ids `cf_` + 64 lowercase hex digits are reserved for the system (§3.3, §4.1): refused on create,
 * yet they can exist, and they are 67 name characters, so the read side accepts them.
 */
export const RESERVED_INSTANCE_ID_PATTERN = /^cf_[0-9a-f]{64}$/;

/**
 * The characters of any instance id Cloudflare can hand out: those of {@link NAME_PATTERN} plus the space,
 * `,`, `*`, `/` and `#` of cron expressions, anywhere (a cron id may start with `*` or a digit).
 */
export const ADDRESSABLE_INSTANCE_ID_PATTERN = /^[a-zA-Z0-9, */#_-]+$/;

/** Step names: anything but the control characters 0x00-0x1F (§4.1); DEL and non-ASCII letters are allowed. */
// eslint-disable-next-line no-control-regex -- the control characters are exactly what the rule refuses
export const STEP_NAME_PATTERN = /^[^\u0000-\u001f]+$/;

/** Version ids are uuids (§3). */
export const VERSION_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const MAX_WORKFLOW_NAME_LENGTH = 64;
export const MAX_NEW_INSTANCE_ID_LENGTH = 100;
/**
 * The longest instance id that can be addressed (§4.1), set by cron ids: Cloudflare names a cron-created
 * instance `<cron expression>-<fire time in epoch ms>`, e.g. `0 3 * * *-1786071600000`, and a cron
 * expression may be 256 characters, so these ids outgrow the 100 characters of user ids. 271 is the bound
 * Cloudflare's local engine checks when an instance is addressed (room for a 256-character expression, the
 * `-` and the timestamp); Cloudflare documents no other.
 */
export const MAX_ADDRESSABLE_INSTANCE_ID_LENGTH = 271;
export const MAX_EVENT_TYPE_LENGTH = 100;
export const MAX_STEP_NAME_LENGTH = 256;

/** A workflow name (§4.1): the same rule on both sides, since every workflow was created with it. */
export const WORKFLOW_NAME: IdentifierRule = { maxLength: MAX_WORKFLOW_NAME_LENGTH, pattern: NAME_PATTERN };

/** The id a caller gives a new instance (§3.3): the name rule, up to 100 characters, and not a reserved id. */
export const NEW_INSTANCE_ID: IdentifierRule = {
  maxLength: MAX_NEW_INSTANCE_ID_LENGTH,
  pattern: NAME_PATTERN,
  reserved: RESERVED_INSTANCE_ID_PATTERN,
};

/**
 * The id of an existing instance, for reads and for changes (pause, events, delete...). It must admit every
 * id Cloudflare can have handed out (§4.1):
 * - ids callers chose ({@link NEW_INSTANCE_ID}: name characters, at most 100);
 * - ids Cloudflare generated when none was given (uuids: 36 name characters);
 * - the reserved `cf_` ids (67 name characters);
 * - cron ids, which add the space, `,`, `*`, `/` and `#` and reach {@link MAX_ADDRESSABLE_INSTANCE_ID_LENGTH}.
 * The rule Cloudflare's local engine applies when an instance is addressed, the character class of
 * {@link ADDRESSABLE_INSTANCE_ID_PATTERN} up to 271 characters, covers all four, and nothing outside it can
 * name an instance: Cloudflare's local engine refuses it as malformed, and anywhere it could only be not
 * found, so refusing it before the request loses no answer and saves the request.
 */
export const ADDRESSABLE_INSTANCE_ID: IdentifierRule = {
  maxLength: MAX_ADDRESSABLE_INSTANCE_ID_LENGTH,
  pattern: ADDRESSABLE_INSTANCE_ID_PATTERN,
};

/** An event type (§3.5, §4.1): the name rule, up to 100 characters. */
export const EVENT_TYPE: IdentifierRule = { maxLength: MAX_EVENT_TYPE_LENGTH, pattern: NAME_PATTERN };

/** A bare step name, as a restart's `from.name` takes it (§3.5, §4.1): 1 to 256 characters, no control characters. */
export const STEP_NAME: IdentifierRule = { maxLength: MAX_STEP_NAME_LENGTH, pattern: STEP_NAME_PATTERN };

/** A version id: a uuid. */
export const VERSION_ID: IdentifierRule = { maxLength: 36, pattern: VERSION_ID_PATTERN };

/** The first rule `value` breaks, checked in the order length, characters, reserved; undefined if none. */
export function identifierRefusal(rule: IdentifierRule, value: string): IdentifierRefusal | undefined {
  if (value.length < 1 || value.length > rule.maxLength) return 'length';
  if (!rule.pattern.test(value)) return 'characters';
  if (rule.reserved?.test(value)) return 'reserved';
  return undefined;
}

/** Whether `value` follows `rule`. */
export function follows(rule: IdentifierRule, value: string): boolean {
  return identifierRefusal(rule, value) === undefined;
}

export const isWorkflowName = (value: string): boolean => follows(WORKFLOW_NAME, value);
export const isNewInstanceId = (value: string): boolean => follows(NEW_INSTANCE_ID, value);
export const isAddressableInstanceId = (value: string): boolean => follows(ADDRESSABLE_INSTANCE_ID, value);
export const isEventType = (value: string): boolean => follows(EVENT_TYPE, value);
export const isStepName = (value: string): boolean => follows(STEP_NAME, value);
export const isVersionId = (value: string): boolean => follows(VERSION_ID, value);

/**
 * Splits the local part of a composite global id, `workflowName/rest` (an instance id or a version id), at the
 * first `/`. Workflow names cannot contain `/`, so this round-trips a `rest` that does (cron ids). Undefined
 * when either part would be empty; whether the parts follow their rules is the caller's check.
 */
export function splitCompositeId(id: string): { workflowName: string; rest: string } | undefined {
  const slash = id.indexOf('/');
  if (slash <= 0 || slash === id.length - 1) return undefined;
  return { workflowName: id.slice(0, slash), rest: id.slice(slash + 1) };
}
