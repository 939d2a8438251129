import type { GraphQLError, GraphQLErrorExtensions } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { ErrorCode } from './codes.js';

/**
 * A GraphQL error with `extensions.code`: the one way src/ builds GraphQL errors. Built with yoga's
 * `createGraphQLError` so that it is an instance of the same `GraphQLError` class yoga's masking checks,
 * even where a test runner loads `graphql` twice (ESM and CommonJS builds); an error of the other copy would
 * be masked as unexpected.
 */
export function codedError(message: string, code: ErrorCode, extensions: GraphQLErrorExtensions = {}): GraphQLError {
  return createGraphQLError(message, { extensions: { code, ...extensions } });
}

/** What a client sees of a failure it cannot act on (a bug, a crashed executor), as yoga's own masking answers it. */
export function unexpectedError(): GraphQLError {
  return codedError('Unexpected error.', 'INTERNAL_SERVER_ERROR');
}

/** A GraphQL error for input the gateway refuses before asking upstream. */
export function badUserInput(message: string, extensions: GraphQLErrorExtensions = {}): GraphQLError {
  return codedError(message, 'BAD_USER_INPUT', extensions);
}

/** For a thing that was referenced (listed, linked) but has vanished by the time its data is read. */
export function vanished(what: string): GraphQLError {
  return codedError(`${what} no longer exists.`, 'NOT_FOUND');
}

/** Whether `error` is a GraphQL error with this `extensions.code` (from any copy of the graphql package). */
export function hasCode(error: unknown, code: ErrorCode): boolean {
  return error instanceof Error && (error as { extensions?: GraphQLErrorExtensions }).extensions?.code === code;
}
