import type { GraphQLError, GraphQLFormattedError } from 'graphql';

/**
 * An error as a socket or an event stream sends it: without yoga's `extensions.http` (the status and headers an HTTP
 * answer would have, which yoga drops from its own answers too), and without `extensions` if that was all it held.
 */
export function withoutHttpExtension(error: GraphQLError | GraphQLFormattedError): GraphQLFormattedError {
  const formatted = 'toJSON' in error && typeof error.toJSON === 'function' ? error.toJSON() : error;
  if (!formatted.extensions || !('http' in formatted.extensions)) return formatted;
  const { http: _http, ...extensions } = formatted.extensions;
  const { extensions: _extensions, ...rest } = formatted;
  return Object.keys(extensions).length > 0 ? { ...rest, extensions } : rest;
}

/** The result with {@link withoutHttpExtension} applied to its errors; undefined if none of them has `http`. */
export function resultWithoutHttp<R extends { readonly errors?: readonly (GraphQLError | GraphQLFormattedError)[] }>(
  result: R,
): (Omit<R, 'errors'> & { errors: GraphQLFormattedError[] }) | undefined {
  if (!result.errors?.some((error) => error.extensions?.['http'] !== undefined)) return undefined;
  return { ...result, errors: result.errors.map(withoutHttpExtension) };
}
