import type { GraphQLError } from 'graphql';
import { codedError } from './coded-error.js';

/** Why a new subscription was refused; `code` lands in the GraphQL error's `extensions.code`. */
export class SubscriptionLimitError extends Error {
  override readonly name = 'SubscriptionLimitError';
  readonly code = 'SUBSCRIPTION_LIMIT';
  constructor(
    message: string,
    readonly limit: number,
    readonly scope: 'server' | 'connection',
  ) {
    super(message);
  }
}

/** The server is shutting down and takes no new subscriptions. */
export class ShuttingDownError extends Error {
  override readonly name = 'ShuttingDownError';
  readonly code = 'SHUTTING_DOWN';
  constructor() {
    super('The server is shutting down; reconnect to another instance or retry shortly.');
  }
}

/**
 * A refused subscription as the coded GraphQL error a client sees; it is meant for the client, so it is
 * never masked.
 */
export function subscriptionRefusedError(error: SubscriptionLimitError | ShuttingDownError): GraphQLError {
  return error instanceof SubscriptionLimitError
    ? codedError(error.message, error.code, { limit: error.limit, scope: error.scope })
    : codedError(error.message, error.code);
}

/**
 * The refusal of a subscription past MAX_SUBSCRIPTIONS_PER_CONNECTION, on a graphql-ws socket (`connection`) or
 * a graphql-sse single-connection stream (`stream`): the one limit both transports hold, answered alike but for
 * what the client can do instead.
 */
export function connectionLimitRefusal(limit: number, holder: 'connection' | 'stream'): GraphQLError {
  const instead = holder === 'connection' ? 'open another connection' : 'reserve another stream';
  return subscriptionRefusedError(
    new SubscriptionLimitError(
      `This ${holder} already has ${limit} subscriptions, its limit (MAX_SUBSCRIPTIONS_PER_CONNECTION); complete one or ${instead}.`,
      limit,
      'connection',
    ),
  );
}
