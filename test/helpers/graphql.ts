import { expect } from 'vitest';
import type { GraphQLResult } from './stack.js';

/**
 * The `data` of a response that must have succeeded: fails the test (showing the errors) when the response
 * has errors or no data, and otherwise returns `data` with its generated type.
 */
export function expectData<T>(result: GraphQLResult<T>): T {
  expect(result.errors).toBeUndefined();
  expect(result.data).toBeDefined();
  expect(result.data).not.toBeNull();
  return result.data as T;
}

/**
 * Fails the test unless `value` is of the GraphQL type `typename` (a member of a result union), and
 * returns it narrowed to that member, so that the member's own fields can be read.
 */
export function expectTypename<T extends { readonly __typename: string }, N extends T['__typename']>(
  value: T | null | undefined,
  typename: N,
): Extract<T, { readonly __typename: N }> {
  expect(value?.__typename, JSON.stringify(value)).toBe(typename);
  return value as Extract<T, { readonly __typename: N }>;
}

/** Fails the test when `value` is null or undefined (a nullable field that must be there), else returns it. */
export function expectPresent<T>(value: T | null | undefined, what: string): T {
  expect(value, what).toBeDefined();
  expect(value, what).not.toBeNull();
  return value as T;
}
