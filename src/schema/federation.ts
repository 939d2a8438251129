/**
 * The schema is an Apollo Federation v2 subgraph: `_service { sdl }` for composition, and `_entities` for the
 * gateway to fetch this subgraph's entities by the keys other subgraphs hold. Each entity type declares its key
 * and how a representation resolves beside the type (`federationEntity` in `schema/workflow.ts`,
 * `schema/instance.ts`, `schema/version.ts`); those resolvers reuse the lookups of `node`, `workflow` and
 * `instance`, so entities go through the same checks, authorization and per-operation loaders.
 */
import { Kind, type GraphQLResolveInfo, type ValueNode } from 'graphql';
import type { Context } from '../context.js';
import { badUserInput } from '../errors/coded-error.js';
import { declareSource } from '../graphql/field-source.js';
import { builder, parseJsonLiteral, type Representation } from './builder.js';
import { checkRepresentationCount, MAX_REPRESENTATIONS } from './ids.js';
import { subgraphSdl } from './subgraph-sdl.js';

/** How an entity type joins the supergraph. */
export interface EntityDeclaration<T> {
  /** The `@key(fields:)` selection: fields of the type that identify one object. */
  readonly key: string;
  /** The object a representation names, or null when it does not exist; throws for that representation only. */
  readonly resolveReference: (
    representation: Representation,
    ctx: Context,
    info: GraphQLResolveInfo,
  ) => Promise<T | null> | T | null;
}

/** An object type's ref, as `builder.objectRef` makes them (`schema/refs.ts`). */
type EntityRef<T> = ReturnType<typeof builder.objectRef<T>>;

interface Entity {
  readonly ref: EntityRef<object>;
  readonly declaration: EntityDeclaration<object>;
}

const entities = new Map<string, Entity>();

/** Makes an object type an entity of the subgraph (`@key`), resolvable through `_entities`. */
export function federationEntity<T extends object>(ref: EntityRef<T>, declaration: EntityDeclaration<T>): void {
  entities.set(ref.name, {
    ref: ref as unknown as EntityRef<object>,
    declaration: declaration as EntityDeclaration<object>,
  });
}

/** The `@key(fields:)` of each entity type, by type name (printed into the subgraph SDL). */
export function entityKeys(): ReadonlyMap<string, string> {
  return new Map([...entities].map(([name, entity]) => [name, entity.declaration.key]));
}

/** Which entity type each object `_entities` returned is (`_Entity` is a union of them). */
const typenames = new WeakMap<object, string>();

function parseRepresentation(value: unknown): Representation {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badUserInput('An entity representation must be an object', { argument: 'representations' });
  }
  const typename = (value as { __typename?: unknown }).__typename;
  if (typeof typename !== 'string') {
    throw badUserInput('An entity representation must name its `__typename`', { argument: 'representations' });
  }
  return value as Representation;
}

builder.scalarType('_Any', {
  description: 'Federation: an entity representation, `{ __typename, ...its key fields }`.',
  serialize: (value) => value,
  parseValue: parseRepresentation,
  parseLiteral: (ast: ValueNode, variables) =>
    parseRepresentation(ast.kind === Kind.OBJECT ? parseJsonLiteral(ast, variables) : undefined),
});

const EntityUnion = builder.unionType('_Entity', {
  description: 'Federation: the types other subgraphs may reference by their keys.',
  types: () => [...entities.values()].map((entity) => entity.ref),
  resolveType: (value) => typenames.get(value) ?? null,
});

const ServiceRef = builder.objectRef<{ readonly sdl: string }>('_Service').implement({
  description: 'Federation: what a gateway asks a subgraph for to compose the supergraph.',
  fields: (t) => ({
    sdl: t.exposeString('sdl', { description: 'This subgraph as SDL, with its federation directives.' }),
  }),
});

/** Resolves one representation; an unknown type name fails that representation only. */
async function resolveEntity(
  representation: Representation,
  ctx: Context,
  info: GraphQLResolveInfo,
): Promise<object | null> {
  const entity = entities.get(representation.__typename);
  if (!entity) {
    throw badUserInput(`${JSON.stringify(representation.__typename.slice(0, 100))} is not an entity of this subgraph`, {
      argument: 'representations',
    });
  }
  const found = await entity.declaration.resolveReference(representation, ctx, info);
  if (found) typenames.set(found, representation.__typename);
  return found;
}

builder.queryFields((t) => ({
  _entities: t.field({
    type: [EntityUnion],
    nullable: { list: false, items: true },
    description:
      'Federation: the entities a gateway names by their keys, in order; null for each that does not exist. ' +
      'Each is checked, authorized, priced and fetched as `workflow`, `instance` or `node` would be, and ' +
      'identical ones are fetched once.',
    args: {
      representations: t.arg({
        type: ['_Any'],
        required: true,
        description: `The entities, each \`{ __typename, ...its key fields }\`; at most ${MAX_REPRESENTATIONS}.`,
      }),
    },
    ...declareSource({ kind: 'entities' }),
    resolve: (_root, args, ctx, info) => {
      checkRepresentationCount(args.representations.length);
      return args.representations.map((representation) => resolveEntity(representation, ctx, info));
    },
  }),
  _service: t.field({
    type: ServiceRef,
    description: 'Federation: this subgraph as SDL with its federation directives, for composition.',
    ...declareSource({ kind: 'key' }),
    resolve: (_root, _args, _ctx, info) => ({ sdl: subgraphSdl(info.schema, entityKeys()) }),
  }),
}));
