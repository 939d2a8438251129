import { locatedError, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { codedError } from '../../src/errors/coded-error.js';

// Why coded errors carry no stack frames: src/errors/coded-error.ts. A frame in their stack would be mapped through
// the bundle's source map whenever graphql-js wraps the error with a path.
describe('codedError', () => {
  it('builds an error without stack frames, also once graphql-js locates it, and leaves the stack limit as it was', () => {
    const limit = Error.stackTraceLimit;
    const error = codedError('No such thing.', 'NOT_FOUND', { what: 'thing' });
    expect(error.stack).toBe('GraphQLError: No such thing.');
    expect(error.extensions).toEqual({ code: 'NOT_FOUND', what: 'thing' });
    const field = parse('{ thing }').definitions[0];
    const located = locatedError(error, field === undefined ? undefined : [field], ['thing']);
    expect(located.stack).not.toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
    // Errors made otherwise keep their frames.
    expect(new Error('a bug').stack).toMatch(/\n\s+at /);
  });
});
