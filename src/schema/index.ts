import './workflow.js';
import './version.js';
import './instance.js';
import './step.js';
import './errors.js';
import './instance-mutations.js';
import './subscription.js';
import './nodes.js';
import { buildSubgraphSchema } from './subgraph.js';

/** The served schema: the API, and the Federation v2 subgraph fields `_service` and `_entities` (`schema/subgraph.ts`). */
export const schema = buildSubgraphSchema();
