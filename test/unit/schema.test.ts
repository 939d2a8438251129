import { readFile } from 'node:fs/promises';
import { composeServices } from '@theguild/federation-composition';
import {
  Kind,
  parse,
  print,
  isEnumType,
  type ConstDirectiveNode,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { printSchemaSdl, printSubgraphSdl } from '../../src/schema/print.js';

describe('schema/schema.graphql', () => {
  it('matches the Pothos schema (run `npm run codegen` after a schema change)', async () => {
    const committed = await readFile(new URL('../../schema/schema.graphql', import.meta.url), 'utf8');
    expect(committed.trim()).toBe(printSchemaSdl().trim());
  });

  it('is the API schema: none of the fields and types only a federation gateway reads', () => {
    expect(printSchemaSdl()).not.toMatch(/_entities|_service|_Any|_Entity|_Service|@key|@link/);
  });
});

describe('schema/subgraph.graphql', () => {
  it('matches the federation SDL the server answers in `_service { sdl }` (run `npm run codegen`)', async () => {
    const committed = await readFile(new URL('../../schema/subgraph.graphql', import.meta.url), 'utf8');
    expect(committed.trim()).toBe(printSubgraphSdl().trim());
  });

  it('is a Federation v2 subgraph with the three entity keys, and composes on its own', () => {
    const sdl = printSubgraphSdl();
    const document = parse(sdl);
    const directives = (node: { directives?: readonly ConstDirectiveNode[] | undefined }) =>
      (node.directives ?? []).map((d) => `@${d.name.value}(${d.arguments?.map((a) => print(a)).join(', ') ?? ''})`);
    const link = document.definitions.flatMap((d) => (d.kind === Kind.SCHEMA_EXTENSION ? directives(d) : []));
    expect(link).toEqual(['@link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@shareable"])']);
    const keys = document.definitions.flatMap((d) =>
      d.kind === Kind.OBJECT_TYPE_DEFINITION && directives(d).length > 0 ? [[d.name.value, ...directives(d)]] : [],
    );
    expect(keys).toEqual([
      ['PageInfo', '@shareable()'],
      ['Workflow', '@key(fields: "name")'],
      ['WorkflowInstance', '@key(fields: "workflowName instanceId")'],
      ['WorkflowVersion', '@key(fields: "workflowName versionId")'],
    ]);
    const composed = composeServices([{ name: 'workflows', typeDefs: document, url: 'http://127.0.0.1/graphql' }]);
    expect(composed.errors?.map((e) => e.message)).toBeUndefined();
  });
});

/** Another team's Relay-style subgraph: its own `PageInfo` and `Node`, and `rootField` on `Query`. */
const relaySubgraph = (rootField: string) => `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@shareable"])
interface Node { id: ID! }
type PageInfo @shareable { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
type Order implements Node @key(fields: "id") { id: ID! total: Float! }
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { pageInfo: PageInfo! edges: [OrderEdge!]! }
type Query { orders(first: Int, after: String): OrderConnection! ${rootField} }
`;

const composedWith = (otherSdl: string): string[] | undefined =>
  composeServices([
    { name: 'workflows', typeDefs: parse(printSubgraphSdl()), url: 'http://127.0.0.1/workflows' },
    { name: 'orders', typeDefs: parse(otherSdl), url: 'http://127.0.0.1/orders' },
  ]).errors?.map((e) => e.message);

describe('the subgraph beside another Relay-style subgraph', () => {
  it('composes with its own PageInfo and Node interface (PageInfo is @shareable)', () => {
    expect(composedWith(relaySubgraph('orderNode(id: ID!): Order'))).toBeUndefined();
  });

  it("does not compose when the other one also has Query.node: the README's supergraph section says why", () => {
    expect(composedWith(relaySubgraph('node(id: ID!): Node'))).toEqual([
      expect.stringContaining('Non-shareable field "Query.node" is resolved from multiple subgraphs'),
    ]);
  });
});

describe('the schema', () => {
  it('describes every type, field, argument and enum value (GraphiQL docs come from them)', () => {
    const undocumented: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (isIntrospectionType(type) || (isScalarType(type) && isSpecifiedScalarType(type))) continue;
      if (!type.description) undocumented.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) undocumented.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) {
            if (!arg.description) undocumented.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) undocumented.push(`${type.name}.${value.name}`);
      }
    }
    expect(undocumented).toEqual([]);
  });
});
