import { describe, expect, it } from 'vitest';
import { isoTimeField } from '../../src/logger.js';

// isoTimeField (src/logger.ts) against what pino's isoTime (Date#toISOString) writes, at the edges of a second.

const expected = (ms: number) => `,"time":"${new Date(ms).toISOString()}"`;

describe('isoTimeField', () => {
  it('writes exactly what toISOString writes, across seconds, days and years, whatever the order of the clock', () => {
    const base = Date.UTC(2026, 11, 31, 23, 59, 58, 0);
    const instants = [
      base,
      base + 1,
      base + 9,
      base + 10,
      base + 99,
      base + 100,
      base + 999,
      base + 1000,
      base + 1999,
      base + 2000,
      base + 2001,
      base - 1,
      base + 500,
      0,
      1,
      Date.UTC(2000, 1, 29, 12, 0, 0, 7),
    ];
    let current = 0;
    const field = isoTimeField(() => current);
    for (const ms of instants) {
      current = ms;
      expect(field()).toBe(expected(ms));
    }
  });

  it('uses the real clock by default', () => {
    const before = Date.now();
    const written = isoTimeField()();
    const after = Date.now();
    const at = Date.parse(JSON.parse(`{${written.slice(1)}}`).time as string);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(after);
  });
});
