import { getOperationAST, type GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/** Claims one of a connection's subscription slots, or returns why not (its `SUBSCRIPTION_LIMIT` refusal). */
export type ClaimSubscriptionSlot = () => GraphQLError | undefined;

/** Where an operation's envelop context holds its connection's {@link ClaimSubscriptionSlot}. */
const CLAIM = Symbol('claimSubscriptionSlot');

/**
 * The entry of an operation's envelop context (`yoga.getEnveloped({ ... })`) by which a transport that carries
 * several operations on one connection (graphql-ws, graphql-sse's single-connection mode) holds
 * MAX_SUBSCRIPTIONS_PER_CONNECTION: `claim` must be synchronous, so that subscribes pipelined on one connection
 * see each other's claims.
 */
export function subscriptionSlots(claim: ClaimSubscriptionSlot): { readonly [CLAIM]: ClaimSubscriptionSlot } {
  return { [CLAIM]: claim };
}

/**
 * Claims a slot for each subscription once it has validated, and refuses it in its validation phase when its
 * connection has none left: the refusal is then one of an operation refused while validated, which the plugins
 * observing that phase count and log (src/operations/lifecycle.ts) as any other, on
 * either transport. Operations without a claim in their context (HTTP requests) are left alone.
 */
export function useSubscriptionSlots(): Plugin {
  return {
    onValidate({ context, params }) {
      const holder = context as { [CLAIM]?: ClaimSubscriptionSlot | undefined };
      const claim = holder[CLAIM];
      if (claim === undefined) return undefined;
      // Used once: a subscription's context lives as long as it does, and need not keep the claim (a closure over
      // its connection) meanwhile. Set, not deleted: a deleted property would turn the context into a dictionary.
      holder[CLAIM] = undefined;
      return ({ valid }) => {
        if (!valid) return;
        const name = (context as { params?: { operationName?: unknown } }).params?.operationName;
        const operation = getOperationAST(params.documentAST, typeof name === 'string' ? name : null);
        if (operation?.operation !== 'subscription') return;
        const refusal = claim();
        if (refusal) throw refusal;
      };
    },
  };
}
