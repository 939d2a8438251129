import type { Config } from '../config.js';
import { INSTANCE_STATUSES } from '../upstream/types.js';
import { MAX_NODE_IDS, MAX_REPRESENTATIONS } from './ids.js';

/**
 * The most items each list argument or list input field of the schema accepts, by the named type of its items:
 * `nodes(ids:)` ({@link MAX_NODE_IDS}), `_entities(representations:)` ({@link MAX_REPRESENTATIONS}),
 * `createInstances`' `instances` (CREATE_INSTANCES_LIMIT) and `workflowInstancesChanged(statuses:)` (one of each
 * status; repeating one adds nothing). No two of these lists share an item type, so the declared type of a
 * variable tells which of them it can be passed to (graphql-js allows a variable only where its type fits). Each
 * field enforces its own limit; these bounds let the transport refuse far longer lists before graphql-js coerces
 * them. test/unit/list-limits.test.ts fails when the schema gains a list input that is not named here.
 */
export function acceptedListLengths(config: Pick<Config, 'createInstancesLimit'>): ReadonlyMap<string, number> {
  return new Map([
    ['ID', MAX_NODE_IDS],
    ['_Any', MAX_REPRESENTATIONS],
    ['CreateInstanceItemInput', config.createInstancesLimit],
    ['InstanceStatus', INSTANCE_STATUSES.length],
  ]);
}
