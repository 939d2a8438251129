import type { GraphQLError, GraphQLErrorExtensions } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { ErrorCode } from './codes.js';

/**
 * A GraphQL error with `extensions.code`: the one way src/ builds GraphQL errors. Built with yoga's
 * `createGraphQLError` so that it is an instance of the same `GraphQLError` class yoga's masking checks,
 * even where a test runner loads `graphql` twice (ESM and CommonJS builds); an error of the other copy would
 * be masked as unexpected.
 *
 * Without stack frames: a coded error is an answer for the client, made on purpose where its code is decided, and
 * graphql-js reads its `stack` whenever it wraps it with a path (locatedError). In production (`--enable-source-maps`,
 * package.json's `start:prod`) each read maps every frame through the bundle's source map: about 70 µs of CPU per
 * error (a refused query cost 318 µs with frames against 245 without, the production build in local mode, 4,000
 * requests each), paid by every subscriber ended at shutdown and by every refusal under load.
 */
export function codedError(message: string, code: ErrorCode, extensions: GraphQLErrorExtensions = {}): GraphQLError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return createGraphQLError(message, { extensions: { code, ...extensions } });
  } finally {
    Error.stackTraceLimit = limit;
  }
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
