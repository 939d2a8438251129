/**
 * Errors the HTTP layer renders as the v4 failure envelope. docs/upstream-contract.md §1.2 lists the codes, the
 * invented ones included.
 */

export const CODES = {
  internal: 10001,
  /** Invented: validation failures have no documented code. */
  validation: 10002,
  workflowNotFound: 10200,
  instanceNotFound: 10400,
  alreadyExists: 10405,
  /** Invented: refused status changes. */
  invalidTransition: 10406,
  /** Invented: a step that is not in the instance's log. */
  stepNotFound: 10407,
  /** Invented: a version id that is not one of the workflow's versions. */
  versionNotFound: 10300,
  noRoute: 7003,
  methodNotAllowed: 7001,
  authFailed: 9106,
  authError: 10000,
  rateLimited: 971,
  payloadTooLarge: 10003,
} as const;

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, CODES.validation, message);
