import { resolveNodes } from '@pothos/plugin-relay';
import { declareSource } from '../graphql/field-source.js';
import { builder } from './builder.js';
import { parseNodeKey } from './entity-keys.js';
import { MAX_NODE_IDS, checkNodeIdCount, decodeNodeId } from './ids.js';

// Pothos' own `nodes` field decodes every id before its resolver runs, so a list of 300,000 ids cost seconds
// before anything could refuse it. This one counts first, then decodes in order and stops at the first malformed id.
builder.queryField('nodes', (t) =>
  t.field({
    ...declareSource({ kind: 'nodes' }),
    description: 'Fetches several objects by their global ids, in order; null for each that does not exist.',
    type: [builder.nodeInterfaceRef()],
    nullable: { list: false, items: true },
    args: {
      ids: t.arg.idList({
        required: true,
        description: `Global ids, as returned in \`id\` fields; at most ${MAX_NODE_IDS}.`,
      }),
    },
    resolve: (_root, args, context, info) => {
      checkNodeIdCount(args.ids.length);
      const decoded = args.ids.map((id) => {
        const { typename, id: local } = decodeNodeId(String(id));
        return { typename, id: parseNodeKey(info.schema.getType(typename), local, context) };
      });
      return resolveNodes(builder, context, info, decoded);
    },
  }),
);
