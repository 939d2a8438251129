import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ADDRESSABLE_INSTANCE_ID,
  EVENT_TYPE,
  identifierRefusal,
  isAddressableInstanceId,
  isEventType,
  isNewInstanceId,
  isStepName,
  isVersionId,
  isWorkflowName,
  NEW_INSTANCE_ID,
  splitCompositeId,
  STEP_NAME,
  WORKFLOW_NAME,
} from '../../src/identifiers.js';

// The limits below are written out as numbers, not imported, so that these tests check src/identifiers.ts
// against the contract (docs/upstream-contract.md §4.1) instead of against itself.

/** A cron-style id of exactly `length` characters: cron characters, then `-<epoch ms>` as Cloudflare names them. */
const cronStyleId = (length: number): string => '*/5 #,'.repeat(60).slice(0, length - 14) + '-1786071600000';
const RESERVED = `cf_${'0123456789abcdef'.repeat(4)}`;
const CONTROL_CHARACTERS = Array.from({ length: 0x20 }, (_, code) => String.fromCharCode(code));

/** Characters that no name-rule identifier (workflow name, new instance id, event type) may contain. */
const NOT_IN_NAMES = [
  ' ',
  ',',
  '*',
  '/',
  '#',
  '.',
  '"',
  "'",
  ':',
  '?',
  '%',
  '+',
  '@',
  '\\',
  'é',
  '\u007f',
  '\n',
  '\u0000',
];
/** Characters that no instance id Cloudflare hands out contains. */
const NOT_IN_INSTANCE_IDS = [
  '.',
  '"',
  "'",
  ':',
  '?',
  '%',
  '+',
  '@',
  '\\',
  '=',
  '&',
  'é',
  '\u007f',
  '\t',
  '\n',
  '\u0000',
];

describe.each([
  ['workflow names', WORKFLOW_NAME, isWorkflowName, 64],
  ['new instance ids', NEW_INSTANCE_ID, isNewInstanceId, 100],
  ['event types', EVENT_TYPE, isEventType, 100],
])('%s', (_what, rule, is, max) => {
  it(`accept 1 to ${max} characters and refuse ${max + 1} and the empty string`, () => {
    expect(is('a')).toBe(true);
    expect(is('a'.repeat(max))).toBe(true);
    expect(identifierRefusal(rule, 'a'.repeat(max + 1))).toBe('length');
    expect(identifierRefusal(rule, '')).toBe('length');
  });

  it('accept letters, digits, "-" and "_", starting with anything but "-"', () => {
    for (const value of ['Az09-_', '_x', '0', '9-', 'a--b']) expect(is(value), value).toBe(true);
    expect(identifierRefusal(rule, '-a')).toBe('characters');
  });

  it.each(NOT_IN_NAMES)('refuse %j anywhere', (character) => {
    for (const value of [character, `a${character}`, `a${character}b`])
      expect(identifierRefusal(rule, value), JSON.stringify(value)).toBe('characters');
  });
});

describe('new instance ids', () => {
  it('refuse the reserved cf_ + 64 lowercase hex ids, and only those', () => {
    expect(identifierRefusal(NEW_INSTANCE_ID, RESERVED)).toBe('reserved');
    for (const value of [RESERVED.slice(0, -1), `${RESERVED}0`, RESERVED.toUpperCase(), `cf_${'g'.repeat(64)}`])
      expect(isNewInstanceId(value), value).toBe(true);
  });

  it('refuse cron ids, which can only be addressed', () => {
    expect(isNewInstanceId('0 3 * * *-1786071600000')).toBe(false);
  });
});

describe('addressable instance ids (the read side)', () => {
  it('accept every id a new instance may have, generated uuids and the reserved cf_ ids', () => {
    for (const value of ['a', 'a'.repeat(100), '-lead', randomUUID(), RESERVED])
      expect(isAddressableInstanceId(value), value).toBe(true);
  });

  it('accept cron ids, with their spaces, "*", "/", ",", "#" and leading digits, up to 271 characters', () => {
    for (const value of ['*/30 * * * *-1786001400000', '0 3 * * *-1786071600000', '0 9 * * 1#2,5-1786071600000'])
      expect(isAddressableInstanceId(value), value).toBe(true);
    expect(cronStyleId(271)).toHaveLength(271);
    expect(isAddressableInstanceId(cronStyleId(271))).toBe(true);
    expect(identifierRefusal(ADDRESSABLE_INSTANCE_ID, cronStyleId(272))).toBe('length');
    expect(identifierRefusal(ADDRESSABLE_INSTANCE_ID, '')).toBe('length');
  });

  it.each(NOT_IN_INSTANCE_IDS)('refuse %j anywhere', (character) => {
    for (const value of [character, `a${character}`, `a${character}b`])
      expect(identifierRefusal(ADDRESSABLE_INSTANCE_ID, value), JSON.stringify(value)).toBe('characters');
  });

  it('reserve nothing: an instance with a cf_ id can be read and changed', () => {
    expect(identifierRefusal(ADDRESSABLE_INSTANCE_ID, RESERVED)).toBeUndefined();
  });
});

describe('step names', () => {
  it('accept 1 to 256 characters and refuse 257 and the empty string', () => {
    expect(isStepName('s'.repeat(256))).toBe(true);
    expect(identifierRefusal(STEP_NAME, 's'.repeat(257))).toBe('length');
    expect(identifierRefusal(STEP_NAME, '')).toBe('length');
  });

  it.each(CONTROL_CHARACTERS.map((c) => [c.charCodeAt(0).toString(16).padStart(2, '0'), c] as const))(
    'refuse control character 0x%s',
    (_code, c) => {
      expect(identifierRefusal(STEP_NAME, `a${c}b`)).toBe('characters');
    },
  );

  it('accept everything else: spaces, punctuation, DEL and non-ASCII letters', () => {
    for (const value of [' ', 'charge card', '-x', 'a/b#c,d*e', 'x\u007fy', 'überweisen', '支払い', '🙂'])
      expect(isStepName(value), value).toBe(true);
  });
});

describe('version ids', () => {
  it('accept uuids in either case and refuse anything else', () => {
    const uuid = randomUUID();
    expect(isVersionId(uuid)).toBe(true);
    expect(isVersionId(uuid.toUpperCase())).toBe(true);
    for (const value of ['', uuid.slice(1), `${uuid}0`, uuid.replace(/-/g, ''), uuid.replace(/^./, 'g')])
      expect(isVersionId(value), value).toBe(false);
  });
});

describe('identifierRefusal', () => {
  it('names the length before the characters and the characters before a reservation', () => {
    expect(identifierRefusal(NEW_INSTANCE_ID, '.'.repeat(101))).toBe('length');
    expect(identifierRefusal(NEW_INSTANCE_ID, `${RESERVED}.`)).toBe('characters');
    expect(identifierRefusal(NEW_INSTANCE_ID, RESERVED)).toBe('reserved');
    expect(identifierRefusal(NEW_INSTANCE_ID, 'order-1')).toBeUndefined();
  });
});

describe('splitCompositeId', () => {
  it('splits at the first "/", so an instance id keeps its own slashes', () => {
    expect(splitCompositeId('nightly-report/*/30 * * * *-1786001400000')).toEqual({
      workflowName: 'nightly-report',
      rest: '*/30 * * * *-1786001400000',
    });
    expect(splitCompositeId('wf/a')).toEqual({ workflowName: 'wf', rest: 'a' });
  });

  it('gives nothing when either part would be empty', () => {
    for (const id of ['', 'no-slash', '/rest', 'wf/', '/']) expect(splitCompositeId(id), id).toBeUndefined();
  });

  it('leaves checking the parts to the caller', () => {
    expect(splitCompositeId('bad name/x')).toEqual({ workflowName: 'bad name', rest: 'x' });
  });
});
