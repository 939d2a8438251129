/**
 * The served schema is an Apollo Federation v2 subgraph, built by Pothos' federation plugin from the
 * `builder.asEntity` declarations beside each entity type (key and `resolveReference`, which reuse the lookups of
 * `node`, `workflow` and `instance`). This module completes what the plugin adds, `_service { sdl }` and
 * `_entities(representations:)`, with what every element of this schema has: a description (GraphiQL's docs) and,
 * on the root fields, the source the cost estimate reads (see `graphql/field-source.ts`). `_entities` resolves
 * each representation on its own, so that one refused or failed representation is an error at its index only.
 */
import { printSubgraphSchema } from '@apollo/subgraph';
import {
  assertObjectType,
  assertScalarType,
  assertUnionType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  GraphQLSchema,
  GraphQLUnionType,
  type GraphQLFieldConfigMap,
  type GraphQLNamedType,
  type GraphQLResolveInfo,
} from 'graphql';
import { badUserInput } from '../errors/coded-error.js';
import { declareSource } from '../graphql/field-source.js';
import { builder } from './builder.js';
import { federationEntityOf, representationKey } from './entity-keys.js';
import { checkRepresentationCount, MAX_REPRESENTATIONS } from './ids.js';

/** The federation version the subgraph links to (`@link(url:)`). */
export const FEDERATION_LINK = 'https://specs.apollo.dev/federation/v2.6';

/** The root fields the federation spec adds to a subgraph, and the types only they use (the API schema has neither). */
export const FEDERATION_FIELDS: ReadonlySet<string> = new Set(['_entities', '_service']);
export const FEDERATION_TYPES: ReadonlySet<string> = new Set(['_Any', '_Entity', '_Service']);

/**
 * One representation: its entity, null when it does not exist; a rejection fails this representation only. Its
 * type's resolver gets the key fields only, each a string.
 */
async function resolveEntity(representation: unknown, ctx: unknown, info: GraphQLResolveInfo): Promise<object | null> {
  const fields = typeof representation === 'object' && representation !== null ? representation : {};
  const typename = (fields as { __typename?: unknown }).__typename;
  const type = typeof typename === 'string' ? info.schema.getType(typename) : undefined;
  const entity = federationEntityOf(type);
  if (!type || !entity) {
    throw badUserInput('A representation must name an entity type of this subgraph in `__typename`', {
      argument: 'representations',
    });
  }
  const key = representationKey(entity, fields as Readonly<Record<string, unknown>>);
  const found = (await entity.resolveReference(key, ctx, info)) as object | null | undefined;
  // `_Entity` has no resolveType: graphql-js takes the member from `__typename`, as @apollo/subgraph sets it.
  return found ? Object.defineProperty(found, '__typename', { value: type.name }) : null;
}

const printed = new WeakMap<GraphQLSchema, string>();

/**
 * The federation SDL of a subgraph schema (printed once per schema): what `_service { sdl }` answers and
 * `schema/subgraph.graphql` holds, with `@link` and `@key`.
 */
export function subgraphSdl(schema: GraphQLSchema): string {
  let sdl = printed.get(schema);
  if (sdl === undefined) {
    sdl = printSubgraphSchema(schema);
    printed.set(schema, sdl);
  }
  return sdl;
}

/** Builds the served schema: the plugin's subgraph, `_entities` and `_service` completed (last in `Query`). */
export function buildSubgraphSchema(): GraphQLSchema {
  const built = builder.toSubGraphSchema({ linkUrl: FEDERATION_LINK, federationDirectives: ['@key', '@shareable'] });
  const any = new GraphQLScalarType({
    ...assertScalarType(built.getType('_Any')).toConfig(),
    description: 'Federation: an entity representation, `{ __typename, ...its key fields }`.',
  });
  const entity = new GraphQLUnionType({
    ...assertUnionType(built.getType('_Entity')).toConfig(),
    description: 'Federation: the types other subgraphs may reference by their keys.',
  });
  const service = new GraphQLObjectType({
    ...assertObjectType(built.getType('_Service')).toConfig(),
    description: 'Federation: what a gateway asks a subgraph for to compose the supergraph.',
  });
  const query = assertObjectType(built.getQueryType());
  const { fields: queryFields, ...queryConfig } = query.toConfig();
  const { _entities: entities, _service: sdl, ...apiFields } = queryFields;
  if (!entities || !sdl) throw new TypeError('The federation plugin added no _entities or _service field');
  const fields: GraphQLFieldConfigMap<unknown, unknown> = {
    ...apiFields,
    _entities: {
      ...entities,
      ...declareSource({ kind: 'entities' }),
      type: new GraphQLNonNull(new GraphQLList(entity)),
      description:
        'Federation: the entities a gateway names by their keys, in order; null for each that does not exist. ' +
        'Each is checked, authorized, priced and fetched as `workflow`, `instance` or `node` would be, and ' +
        'identical ones are fetched once.',
      args: {
        representations: {
          type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(any))),
          description: `The entities, each \`{ __typename, ...its key fields }\`; at most ${MAX_REPRESENTATIONS}.`,
        },
      },
      resolve: (_root, args: { representations: readonly unknown[] }, ctx, info) => {
        checkRepresentationCount(args.representations.length);
        return args.representations.map((representation) => resolveEntity(representation, ctx, info));
      },
    },
    _service: {
      ...sdl,
      ...declareSource({ kind: 'key' }),
      type: new GraphQLNonNull(service),
      description: 'Federation: this subgraph as SDL with its federation directives, for composition.',
      resolve: (_root, _args, _ctx, info) => ({ sdl: subgraphSdl(info.schema) }),
    },
  };
  const described = new GraphQLObjectType({ ...queryConfig, fields });
  const replaced = new Map<string, GraphQLNamedType>([
    [query.name, described],
    [any.name, any],
    [entity.name, entity],
    [service.name, service],
  ]);
  const config = built.toConfig();
  return new GraphQLSchema({
    ...config,
    query: described,
    types: config.types.map((type) => replaced.get(type.name) ?? type),
  });
}
