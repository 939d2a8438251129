import { getNullableType, isInputObjectType, isListType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createConfig } from '../../src/config.js';
import { schema } from '../../src/schema/index.js';
import { MAX_REPRESENTATIONS } from '../../src/schema/ids.js';
import { longestAcceptedList } from '../../src/schema/list-limits.js';

describe('longestAcceptedList', () => {
  it('knows every list the schema accepts as input', () => {
    // Lists inside input objects are input fields. A new list needs its limit in src/schema/list-limits.ts, then a place here.
    const lists: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (isListType(getNullableType(field.type))) lists.push(`${type.name}.${field.name}`);
        }
      } else if ('getFields' in type) {
        for (const field of Object.values(type.getFields())) {
          for (const arg of 'args' in field ? field.args : []) {
            if (isListType(getNullableType(arg.type))) lists.push(`${type.name}.${field.name}(${arg.name})`);
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
  });

  it('is the largest of the limits of those lists', () => {
    expect(longestAcceptedList(createConfig({}))).toBe(1000);
    expect(longestAcceptedList(createConfig({ createInstancesLimit: 10 }))).toBe(MAX_REPRESENTATIONS);
  });
});
