import type { ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ErrorCode } from '../errors/codes.js';
import { badUserInput, codedError } from '../errors/coded-error.js';

/**
 * Codes for the client mistakes that graphql-js and yoga answer without one, or as an unexpected error:
 *
 * - variables nested deeper than {@link MAX_VARIABLE_DEPTH} (a `JSON` argument such as `params`): refused with
 *   `BAD_USER_INPUT` before anything walks them recursively (the cost estimate's cache key, graphql-js'
 *   coercion, the upstream request body), where they would exhaust the stack and be masked as a 500;
 * - variables that do not coerce to their declared types (graphql-js refuses the operation before it runs, with
 *   errors that carry no code): `BAD_USER_INPUT`;
 * - GET parameters `variables` and `extensions` that are not JSON (yoga's GET parser lets JSON.parse's
 *   SyntaxError through, which would be masked as a 500): `BAD_REQUEST`, 400;
 * - answers yoga gives without a body (404 for another path, 406 for an unusable `Accept`, 405, 415): the same
 *   status with a coded JSON body, `BAD_REQUEST`.
 */
export function useCodedRequestErrors(): Plugin {
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          if (!(error instanceof SyntaxError)) throw error;
          throw codedError(
            'The request parameters are not valid: `variables` and `extensions` must be JSON objects.',
            'BAD_REQUEST',
            { http: { status: 400 } },
          );
        }
      });
    },
    onExecute({ args, setResultAndStopExecution }) {
      if (nestedDeeperThan(args.variableValues, MAX_VARIABLE_DEPTH)) setResultAndStopExecution(tooDeep());
      return { onExecuteDone: ({ result }) => codeRefusedVariables(result) };
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (nestedDeeperThan(args.variableValues, MAX_VARIABLE_DEPTH)) setResultAndStopExecution(tooDeep());
      return { onSubscribeResult: ({ result }) => codeRefusedVariables(result) };
    },
    onResponse({ request, response, setResponse, fetchAPI }) {
      if (response.status < 400 || response.body !== null || request.method === 'HEAD') return;
      const message = BODILESS_MESSAGES[response.status] ?? `The request was refused (HTTP ${response.status}).`;
      const headers = new fetchAPI.Headers(response.headers);
      headers.set('content-type', 'application/json');
      const body = JSON.stringify({ errors: [codedError(message, 'BAD_REQUEST')] });
      setResponse(new fetchAPI.Response(body, { status: response.status, headers }));
    },
  };
}

/**
 * Deepest nesting of arrays and objects in an operation's variables. JSON.parse reads any depth, but every
 * recursive walk (JSON.stringify among them) exhausts the stack a few thousand levels down; no workflow's
 * params come near this.
 */
export const MAX_VARIABLE_DEPTH = 512;

const tooDeep = (): ExecutionResult => ({
  errors: [
    badUserInput(`Variables may nest arrays and objects at most ${MAX_VARIABLE_DEPTH} levels deep.`, {
      http: { status: 400 },
    }),
  ],
});

/** Whether `value` nests arrays and objects more than `max` levels deep, found without recursion. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) pending.push([child, depth + 1]);
  }
  return false;
}

/** What yoga's bodiless refusals mean, in words a client can act on. */
const BODILESS_MESSAGES: Readonly<Record<number, string>> = {
  404: 'Not found: GraphQL is served at /graphql.',
  405: 'GraphQL is served with GET and POST.',
  406: 'None of the media types in the Accept header can be served: accept application/graphql-response+json, application/json or text/event-stream.',
  415: 'POST requests need Content-Type: application/json.',
};

/**
 * A result without `data` is an operation refused before it ran; graphql-js refuses it so only for variables
 * that are missing or do not coerce, and leaves their errors without a code.
 */
function codeRefusedVariables(result: unknown): void {
  if (result === null || typeof result !== 'object' || Symbol.asyncIterator in result || 'data' in result) return;
  for (const error of (result as ExecutionResult).errors ?? []) setCodeIfMissing(error, 'BAD_USER_INPUT');
}

function setCodeIfMissing(error: GraphQLError, code: ErrorCode): void {
  // Each coercion error has its own extensions object; yoga sets the codes of its own errors the same way.
  const extensions = error.extensions as { code?: ErrorCode };
  extensions.code ??= code;
}
