/**
 * The smallest schema that shows graphql-jit's bug (graphql-jit-union-list.md): a list of a union whose
 * `resolveType` needs its fourth argument, the union itself. graphql-js passes it; graphql-jit 0.8.x does not.
 * Nothing here comes from src/: it stands alone, as the upstream report's reproduction must.
 */
import {
  defaultTypeResolver,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  GraphQLUnionType,
  parse,
  type GraphQLAbstractType,
  type GraphQLTypeResolver,
} from 'graphql';

export class Created {
  constructor(readonly id: string) {}
}
export class AlreadyExists {
  constructor(readonly id: string) {}
}

/** The fourth argument of every `resolveType` call, in call order. */
export const abstractTypesSeen: (GraphQLAbstractType | undefined)[] = [];

/**
 * What @pothos/core does for a union declared without its own `resolveType` (the `CreateInstancesItemError` union of
 * src/schema/instance-mutations.ts is one): hand over to graphql-js's `defaultTypeResolver`, which asks the union's
 * possible types through `isTypeOf`, and so needs the union.
 */
const resolveLikePothos: GraphQLTypeResolver<unknown, unknown> = (value, context, info, abstractType) => {
  abstractTypesSeen.push(abstractType as GraphQLAbstractType | undefined);
  return defaultTypeResolver(value, context, info, abstractType);
};

const CreatedType = new GraphQLObjectType({
  name: 'Created',
  isTypeOf: (value) => value instanceof Created,
  fields: { id: { type: new GraphQLNonNull(GraphQLString) } },
});
const AlreadyExistsType = new GraphQLObjectType({
  name: 'AlreadyExists',
  isTypeOf: (value) => value instanceof AlreadyExists,
  fields: { id: { type: new GraphQLNonNull(GraphQLString) } },
});
const Outcome = new GraphQLUnionType({
  name: 'Outcome',
  types: [CreatedType, AlreadyExistsType],
  resolveType: resolveLikePothos,
});

const outcomes = () => [new Created('a'), new AlreadyExists('b')];

export const schema = new GraphQLSchema({
  query: new GraphQLObjectType({
    name: 'Query',
    fields: {
      outcomes: { type: new GraphQLNonNull(new GraphQLList(Outcome)), resolve: outcomes },
    },
  }),
  mutation: new GraphQLObjectType({
    name: 'Mutation',
    fields: {
      // Like `createInstances`: the list comes from an asynchronous resolver (the upstream call).
      createMany: { type: new GraphQLNonNull(new GraphQLList(Outcome)), resolve: async () => outcomes() },
    },
  }),
});

const selection = '{ __typename ... on Created { id } ... on AlreadyExists { id } }';
export const QUERY = parse(`query { outcomes ${selection} }`);
export const MUTATION = parse(`mutation { createMany ${selection} }`);

/** The answer graphql-js gives to both documents (under `outcomes` or `createMany`). */
export const EXPECTED_LIST = [
  { __typename: 'Created', id: 'a' },
  { __typename: 'AlreadyExists', id: 'b' },
];
