import type { Config } from '../config.js';
import { INSTANCE_STATUSES } from '../upstream/types.js';
import { MAX_NODE_IDS, MAX_REPRESENTATIONS } from './ids.js';

/**
 * The most items any list argument or list input field of the schema accepts: `nodes(ids:)`
 * ({@link MAX_NODE_IDS}), `_entities(representations:)` ({@link MAX_REPRESENTATIONS}), `createInstances`'
 * `instances` (CREATE_INSTANCES_LIMIT) and
 * `workflowInstancesChanged(statuses:)` (one of each status; repeating one adds nothing). Each field enforces
 * its own limit; this bound lets the transport refuse far longer lists before graphql-js coerces them.
 * test/unit/list-limits.test.ts fails when the schema gains a list input that is not named here.
 */
export function longestAcceptedList(config: Pick<Config, 'createInstancesLimit'>): number {
  return Math.max(MAX_NODE_IDS, MAX_REPRESENTATIONS, config.createInstancesLimit, INSTANCE_STATUSES.length);
}
