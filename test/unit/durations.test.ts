import { describe, expect, it } from 'vitest';
import { readDuration } from '../../src/upstream/duration.js';

// Durations as Cloudflare logs them in a step's config (docs/upstream-contract.md §4.3), read for `Duration`.
describe('readDuration', () => {
  it.each([
    [10_000, { milliseconds: 10_000, text: null }],
    [0, { milliseconds: 0, text: null }],
    ['10 seconds', { milliseconds: 10_000, text: '10 seconds' }],
    ['1 second', { milliseconds: 1000, text: '1 second' }],
    ['5 minutes', { milliseconds: 300_000, text: '5 minutes' }],
    ['1 hour', { milliseconds: 3_600_000, text: '1 hour' }],
    ['2 days', { milliseconds: 172_800_000, text: '2 days' }],
    ['1 week', { milliseconds: 604_800_000, text: '1 week' }],
    ['1 month', { milliseconds: 2_592_000_000, text: '1 month' }],
    ['1 year', { milliseconds: 31_536_000_000, text: '1 year' }],
    ['1.5 hours', { milliseconds: 5_400_000, text: '1.5 hours' }],
    ['250 ms', { milliseconds: 250, text: '250 ms' }],
    ['10s', { milliseconds: 10_000, text: '10s' }],
    ['1500', { milliseconds: 1500, text: '1500' }],
    ['5 mins', { milliseconds: 300_000, text: '5 mins' }],
    ['3 Hours', { milliseconds: 10_800_000, text: '3 Hours' }],
  ])('reads %j', (value, expected) => {
    expect(readDuration(value)).toEqual(expected);
  });

  it.each(['[dynamic]', '', 'soon', '10 fortnights', '-5 seconds', Number.NaN, Number.POSITIVE_INFINITY])(
    'reads %j as no duration',
    (value) => {
      expect(readDuration(value)).toBeUndefined();
    },
  );
});
