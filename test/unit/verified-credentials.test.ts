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
});
