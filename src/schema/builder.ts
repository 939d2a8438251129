import SchemaBuilder from '@pothos/core';
import DirectivesPlugin from '@pothos/plugin-directives';
import ErrorsPlugin from '@pothos/plugin-errors';
import FederationPlugin from '@pothos/plugin-federation';
import RelayPlugin from '@pothos/plugin-relay';
import { Kind, type ValueNode } from 'graphql';
import type { Context } from '../context.js';
import { badUserInput } from '../errors/coded-error.js';
import { MAX_PAGE_SIZE } from '../upstream/limits.js';
import { declareSource } from '../graphql/field-source.js';
import { decodeNodeId } from './ids.js';

export interface SchemaTypes {
  Context: Context;
  // Fields are non-null unless they say otherwise: a null must mean something a client can act on.
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
}

export const builder = new SchemaBuilder<SchemaTypes>({
  // Federation after the plugins that shape fields; its directives (`@key`, `@link`) are printed by DirectivesPlugin.
  plugins: [ErrorsPlugin, RelayPlugin, DirectivesPlugin, FederationPlugin],
  defaultFieldNullability: false,
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesOnConnection: { description: 'The nodes of this page, without their edges.' },
    nodeQueryOptions: {
      ...declareSource({ kind: 'node' }),
      description: 'Fetches any object that implements `Node` by its global id; null when it no longer exists.',
      args: { id: { description: 'A global id, as returned in an `id` field.' } },
    },
    // `nodes` is declared in schema/nodes.ts: it refuses a long list before decoding any id.
    nodesQueryOptions: false,
    decodeGlobalID: decodeNodeId,
    nodeTypeOptions: { description: 'An object with a stable, opaque global id that `Query.node` can refetch.' },
    idFieldOptions: {
      description: 'The global id: stable and opaque; pass it to `Query.node` to refetch this object.',
    },
    // Shareable: every Relay-style subgraph of a supergraph has its own identical `PageInfo`.
    pageInfoTypeOptions: { description: 'Where a page sits in its connection.', shareable: true },
    hasNextPageFieldOptions: {
      description: 'Whether more items follow this page (paging forwards with `first`/`after`).',
    },
    hasPreviousPageFieldOptions: {
      description: 'Whether items precede this page (paging backwards with `last`/`before`).',
    },
    startCursorFieldOptions: { description: 'Cursor of the first item of this page; null when the page is empty.' },
    endCursorFieldOptions: { description: 'Cursor of the last item of this page; null when the page is empty.' },
    edgesFieldOptions: { description: 'The items of this page with their cursors.' },
    pageInfoFieldOptions: { description: 'How to fetch the pages before and after this one.' },
    cursorFieldOptions: { description: 'An opaque cursor for `after` or `before`.' },
    nodeFieldOptions: { description: 'The item.' },
    firstArgOptions: { description: `Returns the first n items (at most ${MAX_PAGE_SIZE}).` },
    afterArgOptions: { description: 'Returns items after this cursor.' },
    lastArgOptions: { description: `Returns the last n items (at most ${MAX_PAGE_SIZE}).` },
    beforeArgOptions: { description: 'Returns items before this cursor.' },
  },
  errors: { defaultTypes: [] },
});

builder.queryType({ description: 'Reads: workflows, their versions, instances and steps.' });
builder.mutationType({ description: 'Writes: create instances and change their status.' });
builder.subscriptionType({ description: 'Live updates, fed by shared polling of the upstream API.' });

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function parseDateTime(value: unknown): Date {
  if (typeof value === 'string' && ISO_DATE.test(value)) {
    const date = new Date(value);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw badUserInput(
    `DateTime must be an ISO 8601 date-time with a time zone, such as "2026-01-31T12:00:00Z"; got ${JSON.stringify(value)}`,
  );
}

builder.scalarType('DateTime', {
  description: 'A date-time in ISO 8601 format with a time zone (UTC on output), such as `2026-01-31T12:00:00.000Z`.',
  serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(value).toISOString()),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

function parseJsonLiteral(ast: ValueNode, variables: Record<string, unknown> | null | undefined): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map((v) => parseJsonLiteral(v, variables));
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, parseJsonLiteral(f.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[ast.name.value];
    default:
      throw badUserInput(`JSON cannot represent an enum value`);
  }
}

builder.scalarType('JSON', {
  description: 'Any JSON value: object, array, string, number, boolean or null.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => parseJsonLiteral(ast, variables),
});
