import { printSchema } from 'graphql';
import { entityKeys } from './federation.js';
import { schema } from './index.js';
import { apiSchema, subgraphSdl } from './subgraph-sdl.js';

/** The API schema as committed in schema/schema.graphql, for clients and codegen: sorted, so that diffs show only real changes. */
export function printSchemaSdl(): string {
  return `${printSchema(apiSchema(schema))}\n`;
}

/** The federation SDL as committed in schema/subgraph.graphql: what `_service { sdl }` answers. */
export function printSubgraphSdl(): string {
  return subgraphSdl(schema, entityKeys());
}
