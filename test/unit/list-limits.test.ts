import { getNamedType, getNullableType, isInputObjectType, isListType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createConfig } from '../../src/config.js';
import { schema } from '../../src/schema/index.js';
import { MAX_NODE_IDS, MAX_REPRESENTATIONS } from '../../src/schema/ids.js';
import { acceptedListLengths } from '../../src/schema/list-limits.js';
import { INSTANCE_STATUSES } from '../../src/upstream/types.js';

describe('acceptedListLengths', () => {
  it('knows every list the schema accepts as input', () => {
    // Lists inside input objects are input fields. A new list needs its limit in src/schema/list-limits.ts, then a place here.
    const lists: string[] = [];
    const itemTypes: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!isListType(getNullableType(field.type))) continue;
          lists.push(`${type.name}.${field.name}`);
          itemTypes.push(getNamedType(field.type).name);
        }
      } else if ('getFields' in type) {
        for (const field of Object.values(type.getFields())) {
          for (const arg of 'args' in field ? field.args : []) {
            if (!isListType(getNullableType(arg.type))) continue;
            lists.push(`${type.name}.${field.name}(${arg.name})`);
            itemTypes.push(getNamedType(arg.type).name);
          }
        }
      }
    }
    expect(lists.sort()).toEqual([
      'CreateInstancesInput.instances',
      'Query._entities(representations)',
      'Query.nodes(ids)',
      'Subscription.workflowInstancesChanged(statuses)',
    ]);
    // Each list has its own item type, which is how the transport tells which list a variable can reach.
    expect(itemTypes.sort()).toEqual([...acceptedListLengths(createConfig({})).keys()].sort());
  });

  it("is each list's own limit", () => {
    expect(Object.fromEntries(acceptedListLengths(createConfig({ createInstancesLimit: 10 })))).toEqual({
      ID: MAX_NODE_IDS,
      _Any: MAX_REPRESENTATIONS,
      CreateInstanceItemInput: 10,
      InstanceStatus: INSTANCE_STATUSES.length,
    });
  });
});
