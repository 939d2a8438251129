import { describe, expect, it } from 'vitest';
import { VerifiedCredentials } from '../../src/auth/verified-credentials.js';

describe('VerifiedCredentials', () => {
  it('keeps at most its bound, forgetting the least recently verified first', () => {
    const verified = new VerifiedCredentials<string>(2);
    verified.remember('a', 'A');
    verified.remember('b', 'B');
    // Verified again: now the most recent.
    verified.remember('a', 'A2');
    verified.remember('c', 'C');
    expect(verified.get('b')).toBeUndefined();
    expect(verified.get('a')).toBe('A2');
    expect(verified.get('c')).toBe('C');
  });

  it('answers only the exact credential, and nothing once cleared', () => {
    const verified = new VerifiedCredentials<string>(10);
    verified.remember('wfgql_key-0001', 'dash');
    expect(verified.get('wfgql_key-000')).toBeUndefined();
    expect(verified.get('wfgql_key-00011')).toBeUndefined();
    expect(verified.get('WFGQL_KEY-0001')).toBeUndefined();
    expect(verified.get('wfgql_key-0001')).toBe('dash');
    verified.clear();
    expect(verified.get('wfgql_key-0001')).toBeUndefined();
  });
});
