import {
  getNamedType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  type GraphQLField,
  type GraphQLObjectType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { entityOf, sourceOf, startOf } from '../../src/graphql/field-source.js';
import { schema } from '../../src/schema/index.js';

/**
 * The cost estimate, the workflow prefetch and the subscriptions read what data a field needs from the
 * source the field declares (src/graphql/field-source.ts). A field that declares none is priced as a value
 * its parent carries, which is only right on value types; these tests keep new fields of the root types
 * and the upstream entities from slipping through undeclared.
 */

const objectTypes = Object.values(schema.getTypeMap()).filter(
  (type): type is GraphQLObjectType => isObjectType(type) && !type.name.startsWith('__'),
);
const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(
  (type): type is GraphQLObjectType => type !== null && type !== undefined,
);
const entities = objectTypes.filter((type) => entityOf(type) !== undefined);

describe('field sources', () => {
  it('are declared on every field of the root types and of every entity type', () => {
    const undeclared: string[] = [];
    for (const type of [...roots, ...entities]) {
      for (const field of Object.values(type.getFields())) {
        if (!sourceOf(field)) undeclared.push(`${type.name}.${field.name}`);
      }
    }
    expect(undeclared).toEqual([]);
  });

  it('mark the three node types as their entities, and no other type', () => {
    const node = schema.getType('Node');
    if (!isInterfaceType(node)) throw new Error('Node is not an interface of the schema');
    const implementations = schema.getPossibleTypes(node).map((type) => type.name);
    expect(entities.map((type) => type.name).sort()).toEqual(implementations.sort());
    expect(Object.fromEntries(entities.map((type) => [type.name, entityOf(type)]))).toEqual({
      Workflow: 'workflow',
      WorkflowInstance: 'instance',
      WorkflowVersion: 'version',
    });
  });

  it('that fetch step outputs sit on step types only', () => {
    const stepInterface = schema.getType('WorkflowStep');
    if (!isInterfaceType(stepInterface)) throw new Error('WorkflowStep is not an interface of the schema');
    const steps = new Set(schema.getPossibleTypes(stepInterface).map((type) => type.name));
    const outputs = objectTypes.flatMap((type) =>
      Object.values(type.getFields())
        .filter((field) => sourceOf(field)?.kind === 'stepOutput')
        .map((field) => `${type.name}.${field.name}`),
    );
    expect(outputs.sort()).toEqual(['DoStep.output', 'WaitForEventStep.payload']);
    for (const path of outputs) expect(steps.has(path.split('.')[0] ?? '')).toBe(true);
  });

  it('that start work ahead of their resolver are the ones Query.workflow can prefetch', () => {
    const prefetched = objectTypes.flatMap((type) =>
      Object.values(type.getFields())
        .filter((field) => startOf(sourceOf(field)) !== undefined)
        .map((field) => `${type.name}.${field.name}`),
    );
    expect(prefetched.sort()).toEqual([
      'Workflow.instance',
      'Workflow.instances',
      'Workflow.latestVersion',
      'Workflow.versions',
    ]);
  });

  it('name only arguments and input fields their field has', () => {
    const wrong: string[] = [];
    const expectArg = (
      type: GraphQLObjectType,
      field: GraphQLField<unknown, unknown>,
      name: string | undefined,
    ): void => {
      if (name !== undefined && !field.args.some((arg) => arg.name === name))
        wrong.push(`${type.name}.${field.name}(${name})`);
    };
    for (const type of objectTypes) {
      for (const field of Object.values(type.getFields())) {
        const source = sourceOf(field);
        if (source?.kind === 'lookup' || source?.kind === 'watch') {
          for (const name of Object.values(source.args)) expectArg(type, field, name);
        }
        if (source?.kind === 'write' && source.batch) {
          const { input, list } = source.batch;
          expectArg(type, field, input);
          const inputType = getNamedType(field.args.find((arg) => arg.name === input)?.type);
          if (!isInputObjectType(inputType) || !inputType.getFields()[list])
            wrong.push(`${type.name}.${field.name}: ${input}.${list}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
