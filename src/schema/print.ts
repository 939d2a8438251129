import { assertObjectType, GraphQLObjectType, GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './index.js';
import { FEDERATION_FIELDS, FEDERATION_TYPES, subgraphSdl } from './subgraph.js';

/** The served schema without the fields and types only a federation gateway reads. */
function apiSchema(): GraphQLSchema {
  const query = assertObjectType(schema.getQueryType());
  const { fields, ...config } = query.toConfig();
  const api = new GraphQLObjectType({
    ...config,
    fields: Object.fromEntries(Object.entries(fields).filter(([name]) => !FEDERATION_FIELDS.has(name))),
  });
  const whole = schema.toConfig();
  return new GraphQLSchema({
    ...whole,
    query: api,
    types: whole.types.filter((type) => !FEDERATION_TYPES.has(type.name)).map((type) => (type === query ? api : type)),
  });
}

/**
 * The API schema as committed in schema/schema.graphql, which clients and codegen use: sorted, so that diffs
 * show only real changes.
 */
export function printSchemaSdl(): string {
  return `${printSchema(lexicographicSortSchema(apiSchema()))}\n`;
}

/** The federation SDL as committed in schema/subgraph.graphql: what `_service { sdl }` answers. */
export function printSubgraphSdl(): string {
  return `${subgraphSdl(schema)}\n`;
}
