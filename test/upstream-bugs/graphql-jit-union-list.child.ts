/**
 * Runs graphql-jit-union-list.md's mutation compiled by graphql-jit, in a process of its own: the bug ends the
 * process it runs in, which a test must not share. Prints `settled <json>` if the compiled mutation settles.
 */
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import { MUTATION, schema } from './graphql-jit-union-list.schema.js';

const compiled = compileQuery(schema, MUTATION);
if (!isCompiledQuery(compiled)) throw new Error(`did not compile: ${JSON.stringify(compiled)}`);
const result = await compiled.query(undefined, {}, {});
console.log(`settled ${JSON.stringify(result)}`);
