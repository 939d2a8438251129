/**
 * The two printed forms of the served schema: the API schema that clients and codegen use (without the
 * fields and types only a federation gateway reads), and the federation SDL that `_service { sdl }` answers.
 */
import {
  GraphQLObjectType,
  GraphQLSchema,
  Kind,
  assertObjectType,
  lexicographicSortSchema,
  parse,
  print,
  printSchema,
  visit,
  type ConstDirectiveNode,
} from 'graphql';

/** The federation version the subgraph links to. */
export const FEDERATION_LINK = 'https://specs.apollo.dev/federation/v2.6';

/** What the federation spec adds to a subgraph's schema (`schema/federation.ts` declares them). */
const FEDERATION_FIELDS: ReadonlySet<string> = new Set(['_entities', '_service']);
const FEDERATION_TYPES: ReadonlySet<string> = new Set(['_Any', '_Entity', '_Service']);

/** The served schema without `_entities`, `_service` and their types, sorted. */
export function apiSchema(schema: GraphQLSchema): GraphQLSchema {
  const query = assertObjectType(schema.getQueryType());
  const { fields, ...config } = query.toConfig();
  const api = new GraphQLObjectType({
    ...config,
    fields: Object.fromEntries(Object.entries(fields).filter(([name]) => !FEDERATION_FIELDS.has(name))),
  });
  const whole = schema.toConfig();
  return lexicographicSortSchema(
    new GraphQLSchema({
      ...whole,
      query: api,
      types: whole.types
        .filter((type) => !FEDERATION_TYPES.has(type.name))
        .map((type) => (type === query ? api : type)),
    }),
  );
}

const keyDirective = (fields: string): ConstDirectiveNode => ({
  kind: Kind.DIRECTIVE,
  name: { kind: Kind.NAME, value: 'key' },
  arguments: [
    { kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'fields' }, value: { kind: Kind.STRING, value: fields } },
  ],
});

const printed = new WeakMap<GraphQLSchema, string>();

/**
 * The federation SDL: the API schema with `@key(fields:)` on each entity type (`keys`, by type name) and the
 * `@link` to Federation v2 that imports `@key`. Printed once per schema.
 */
export function subgraphSdl(schema: GraphQLSchema, keys: ReadonlyMap<string, string>): string {
  const known = printed.get(schema);
  if (known !== undefined) return known;
  const document = visit(parse(printSchema(apiSchema(schema))), {
    ObjectTypeDefinition(node) {
      const key = keys.get(node.name.value);
      return key === undefined ? undefined : { ...node, directives: [...(node.directives ?? []), keyDirective(key)] };
    },
  });
  const sdl = `extend schema @link(url: "${FEDERATION_LINK}", import: ["@key"])\n\n${print(document)}\n`;
  printed.set(schema, sdl);
  return sdl;
}
