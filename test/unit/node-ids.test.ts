import { isObjectType } from 'graphql';
import { expect, it } from 'vitest';
import { NODE_TYPENAMES } from '../../src/schema/ids.js';
import { schema } from '../../src/schema/index.js';

it('names exactly the object types that implement Node', () => {
  const implementations = Object.values(schema.getTypeMap())
    .filter(isObjectType)
    .filter((type) => type.getInterfaces().some((i) => i.name === 'Node'))
    .map((type) => type.name);
  expect([...NODE_TYPENAMES].sort()).toEqual(implementations.sort());
});
