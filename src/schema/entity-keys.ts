/**
 * Which types are federation entities and what their keys are, read from the one place they are declared: the
 * `builder.asEntity` call beside each entity type (its `key` becomes the type's `@key` directive, its
 * `resolveReference` the resolver @apollo/subgraph looks for). `_entities` (schema/subgraph.ts) and the cost
 * estimate (cost/estimate.ts) both read them here.
 */
import { isObjectType, type GraphQLNamedType, type GraphQLResolveInfo } from 'graphql';
import { badUserInput } from '../errors/coded-error.js';

type ResolveReference = (key: Readonly<Record<string, string>>, context: unknown, info: GraphQLResolveInfo) => unknown;

/** An entity type of this subgraph: the fields of its `@key`, and how one is fetched from them. */
export interface FederationEntity {
  readonly keyFields: readonly string[];
  readonly resolveReference: ResolveReference;
}

interface EntityExtensions {
  readonly directives?: readonly { readonly name: string; readonly args?: { readonly fields?: unknown } }[];
  readonly apollo?: { readonly subgraph?: { readonly resolveReference?: ResolveReference } };
}

const entities = new WeakMap<GraphQLNamedType, FederationEntity | null>();

/** The entity `type` is (its `@key` fields and resolver), or undefined when it is not one. */
export function federationEntityOf(type: GraphQLNamedType | null | undefined): FederationEntity | undefined {
  if (!isObjectType(type)) return undefined;
  let entity = entities.get(type);
  if (entity === undefined) {
    const extensions = type.extensions as EntityExtensions;
    const fields = extensions.directives?.find((d) => d.name === 'key')?.args?.fields;
    const resolveReference = extensions.apollo?.subgraph?.resolveReference;
    entity =
      typeof fields === 'string' && resolveReference
        ? { keyFields: fields.split(/\s+/).filter(Boolean), resolveReference }
        : null;
    entities.set(type, entity);
  }
  return entity ?? undefined;
}

/**
 * The key of a representation (its key fields only), or the first key field that is not a string: the gateway
 * sends representations as untyped JSON.
 */
export function keyOfRepresentation(
  entity: FederationEntity,
  representation: Readonly<Record<string, unknown>>,
): { readonly key: Readonly<Record<string, string>> } | { readonly invalidField: string } {
  const key: Record<string, string> = {};
  for (const field of entity.keyFields) {
    const value = representation[field];
    if (typeof value !== 'string') return { invalidField: field };
    key[field] = value;
  }
  return { key };
}

/** {@link keyOfRepresentation}, refusing a representation with a key field that is not a string. */
export function representationKey(
  entity: FederationEntity,
  representation: Readonly<Record<string, unknown>>,
): Readonly<Record<string, string>> {
  const read = keyOfRepresentation(entity, representation);
  if ('invalidField' in read) {
    throw badUserInput(`A representation's \`${read.invalidField}\` must be a string`, {
      argument: 'representations',
    });
  }
  return read.key;
}

type ParseId = (id: string, context: object) => unknown;

/**
 * What the local part of a global id stands for: the key the type's own id parser returns (`id: { parse }` of
 * `builder.node`, which Pothos keeps in the type's extensions), the same key `_entities` names the entity by.
 * Throws as the parser does (a coded BAD_USER_INPUT).
 */
export function parseNodeKey(type: GraphQLNamedType | null | undefined, local: string, context: object): unknown {
  const parse = type?.extensions['pothosParseGlobalID'] as ParseId | undefined;
  return parse ? parse(local, context) : local;
}
