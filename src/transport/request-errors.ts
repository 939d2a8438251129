import {
  BREAK,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isInputObjectType,
  isListType,
  isNonNullType,
  Kind,
  TypeInfo,
  typeFromAST,
  ValidationContext,
  visit,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLError,
  type GraphQLInputType,
  type GraphQLNamedType,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ErrorCode } from '../errors/codes.js';
import { badUserInput, codedError, hasCode } from '../errors/coded-error.js';

/**
 * Codes for the client mistakes that graphql-js and yoga answer without one, or as an unexpected error:
 *
 * - lists in variables far longer than the list argument they can reach accepts ({@link refusedListLength}): refused with
 *   `BAD_USER_INPUT` before graphql-js coerces them, twice (the cost estimate, then execution), which took
 *   seconds of a blocked event loop and hundreds of MiB for a few million items;
 * - values nested deeper than {@link MAX_VARIABLE_DEPTH}, in variables (a `JSON` argument such as `params`) or
 *   written in the document: refused with `BAD_USER_INPUT` before anything walks them recursively (the cost
 *   estimate, graphql-js' coercion, the upstream request body), where they would exhaust the stack and be
 *   masked as a 500;
 * - variables that do not coerce to their declared types (graphql-js refuses the operation before it runs, with
 *   errors that carry no code): `BAD_USER_INPUT`;
 * - a variable given as `null` where it is used in a non-null position, which validation allows when the variable has
 *   a default (`$v: Boolean = true` in `@include(if: $v)`): graphql-js fails the field, or the whole operation,
 *   while it runs, with an error that carries no code ({@link nullWhereRequired}): `BAD_USER_INPUT` before it runs;
 * - a POST body that is not JSON: yoga's `BAD_REQUEST` without its `originalError`, whose message (JSON.parse's)
 *   quotes the body back to the client, up to the whole of it;
 * - GET parameters `variables` and `extensions` that are not JSON (yoga's GET parser lets JSON.parse's
 *   SyntaxError through, which would be masked as a 500): `BAD_REQUEST`, 400;
 * - answers yoga gives without a body (404 for another path, 406 for an unusable `Accept`, 405, 415): the same
 *   status with a coded JSON body, `BAD_REQUEST`.
 */
export function useCodedRequestErrors(options: {
  /** The most items each list argument of the schema accepts, by the type of its items (src/schema/list-limits.ts). */
  acceptedListLengths: ReadonlyMap<string, number>;
}): Plugin {
  const bounds = listBound(options.acceptedListLengths);
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          if (hasCode(error, 'BAD_REQUEST')) throw withoutOriginalError(error as GraphQLError);
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
      const refusal = refusalOf(args, bounds);
      if (refusal) setResultAndStopExecution(refusal);
      return CODE_EXECUTE_RESULT;
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refusal = refusalOf(args, bounds);
      if (refusal) setResultAndStopExecution(refusal);
      return CODE_SUBSCRIBE_RESULT;
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

/** The after-hooks of execute and subscribe: one object each for every operation (a subscription keeps its own). */
const CODE_EXECUTE_RESULT = { onExecuteDone: ({ result }: { result: unknown }) => codeRefusedVariables(result) };
const CODE_SUBSCRIBE_RESULT = { onSubscribeResult: ({ result }: { result: unknown }) => codeRefusedVariables(result) };

/**
 * Deepest nesting of arrays and objects in a value, given in a variable or written in the document. JSON.parse
 * reads any depth, but every recursive walk (JSON.stringify among them) exhausts the stack a few thousand
 * levels down; no workflow's params come near this. Written values are bounded by MAX_TOKENS too, but a list
 * costs two tokens a level, so the default 2,000 tokens reach 1,000 levels: the same limit holds for both.
 */
export const MAX_VARIABLE_DEPTH = 512;

/**
 * Lists longer than this are refused before coercion: twice what the list argument accepts, so that a list a
 * little over a field's limit still gets that field's own answer (a typed `InvalidInputError` for
 * `createInstances`), while the work a list can cause stays bounded.
 */
export const refusedListLength = (acceptedListLength: number): number => 2 * acceptedListLength;

/** The longest list of items of a type that is not refused before coercion. */
type ListBound = (itemType: GraphQLNamedType) => number;

/**
 * {@link refusedListLength} of the list argument that takes items of the type; for a type no list argument takes
 * (a variable graphql-js will refuse anyway), of the longest one.
 */
function listBound(accepted: ReadonlyMap<string, number>): ListBound {
  const longest = refusedListLength(Math.max(...accepted.values()));
  return (itemType) => {
    const length = accepted.get(itemType.name);
    return length === undefined ? longest : refusedListLength(length);
  };
}

const refusal = (message: string): ExecutionResult => ({
  errors: [badUserInput(message, { http: { status: 400 } })],
});

/** The operation that `args` runs. */
type Operation = ReturnType<typeof getOperationAST>;

/** Why an operation is refused before it runs, if it is (the checks below, in order, on its operation found once). */
function refusalOf(args: ExecutionArgs, bounds: ListBound): ExecutionResult | undefined {
  const operation = getOperationAST(args.document, args.operationName);
  return (
    refusedValues(args, operation, bounds) ?? uncoercedVariables(args, operation) ?? nullWhereRequired(args, operation)
  );
}

/** Why an operation's values are refused before anything processes them: too large, or nested too deep. */
function refusedValues(args: ExecutionArgs, operation: Operation, bounds: ListBound): ExecutionResult | undefined {
  const tooDeep = () => refusal(`Values may nest arrays and objects at most ${MAX_VARIABLE_DEPTH} levels deep.`);
  if (literalsDeeperThan(args.document, MAX_VARIABLE_DEPTH)) return tooDeep();
  const variables = args.variableValues;
  if (!variables) return undefined;
  for (const definition of operation?.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    if (!Object.hasOwn(variables, name)) continue;
    const type = typeFromAST(args.schema, definition.type) as GraphQLInputType | undefined;
    const why = type && oversizedIn(variables[name], type, bounds, `$${name}`);
    if (why) return refusal(why);
  }
  for (const value of Object.values(variables)) if (nestedDeeperThan(value, MAX_VARIABLE_DEPTH)) return tooDeep();
  return undefined;
}

/**
 * Variables that do not coerce, refused with graphql-js' own coercion (at most 50 errors, values printed
 * shortened) before the executor coerces them: its printer (cross-inspect) prints every refused value whole, so
 * ten undeclared members beside a 14 MB list answered 231 MB and blocked the event loop for 6 s.
 */
function uncoercedVariables(args: ExecutionArgs, operation: Operation): ExecutionResult | undefined {
  const definitions = operation?.variableDefinitions ?? [];
  if (definitions.length === 0) return undefined;
  const { errors } = getVariableValues(args.schema, definitions, args.variableValues ?? {}, { maxErrors: 50 });
  if (!errors) return undefined;
  return { errors: errors.map((error) => badUserInput(shortened(error.message), { http: { status: 400 } })) };
}

/**
 * A variable given explicitly as `null` that the operation uses where a non-null value is required. Validation
 * lets a nullable variable with a default stand there (the default would fill it), but an explicit `null` is
 * passed as it is, and graphql-js then fails the argument while the operation runs. Only operations with such a
 * null variable are walked.
 */
function nullWhereRequired(args: ExecutionArgs, operation: Operation): ExecutionResult | undefined {
  const variables = args.variableValues;
  if (!variables || !operation) return undefined;
  const nulls = new Set(
    (operation.variableDefinitions ?? [])
      .map((definition) => definition.variable.name.value)
      .filter((name) => Object.hasOwn(variables, name) && variables[name] === null),
  );
  if (nulls.size === 0) return undefined;
  const context = new ValidationContext(args.schema, args.document, new TypeInfo(args.schema), () => undefined);
  for (const { node, type } of context.getRecursiveVariableUsages(operation)) {
    const name = node.name.value;
    if (type && isNonNullType(type) && nulls.has(name))
      return refusal(
        `Variable "$${name}" is null, but it is used where a value of type "${String(type)}" is required.`,
      );
  }
  return undefined;
}

/** Longest coercion message answered: graphql-js shortens lists and objects it prints, but not strings. */
const MAX_MESSAGE_LENGTH = 1000;

/** The message's start and its end (where graphql-js says what was expected), without the middle of a long value. */
function shortened(message: string): string {
  if (message.length <= MAX_MESSAGE_LENGTH) return message;
  return `${message.slice(0, 600)} … ${message.slice(-300)}`;
}

/**
 * Why `value`, read as `type` the way graphql-js will coerce it, is refused: it holds a list longer than `max` of its items, or
 * an input object with far more members than its type has fields; undefined when it is not. Only lists and input
 * objects are entered: scalars (`JSON` included) and enums are not walked, and neither are the items of a list
 * of them, nor members that `type` does not declare.
 */
function oversizedIn(value: unknown, type: GraphQLInputType, max: ListBound, path: string): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const nullable = getNullableType(type);
  if (isListType(nullable)) {
    const item = nullable.ofType as GraphQLInputType;
    // graphql-js coerces a single value given for a list into a list of one.
    if (!Array.isArray(value)) return oversizedIn(value, item, max, path);
    const bound = max(getNamedType(item));
    if (value.length > bound) return `${path} holds more than ${bound} items, far more than its argument accepts.`;
    const itemType = getNullableType(item);
    if (!isListType(itemType) && !isInputObjectType(itemType)) return undefined;
    for (let i = 0; i < value.length; i++) {
      const found = oversizedIn(value[i], item, max, `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (!isInputObjectType(nullable) || Array.isArray(value)) return undefined;
  const fields = Object.values(nullable.getFields());
  // graphql-js refuses each member the type does not declare with an error that prints the whole object: a
  // million of them took minutes. A few typos still get its answer, with its suggestions.
  if (membersOver(value, 2 * fields.length)) {
    return `${path} has more than ${2 * fields.length} members; ${nullable.name} has ${fields.length} fields.`;
  }
  for (const field of fields) {
    if (!Object.hasOwn(value, field.name)) continue;
    const found = oversizedIn((value as Record<string, unknown>)[field.name], field.type, max, `${path}.${field.name}`);
    if (found) return found;
  }
  return undefined;
}

/** Whether `value` has more than `max` own enumerable members, counted without listing them all. */
function membersOver(value: object, max: number): boolean {
  let count = 0;
  for (const key in value) if (Object.hasOwn(value, key) && ++count > max) return true;
  return false;
}

const isNested = (value: unknown): value is object => value !== null && typeof value === 'object';

/**
 * Whether `value` nests arrays and objects more than `max` levels deep, found without recursion: one frame per
 * level being walked, nothing allocated for the plain values of an array.
 */
function nestedDeeperThan(value: unknown, max: number): boolean {
  if (!isNested(value)) return false;
  const childrenOf = (item: object): readonly unknown[] => (Array.isArray(item) ? item : Object.values(item));
  const frames: { children: readonly unknown[]; next: number }[] = [{ children: childrenOf(value), next: 0 }];
  for (let frame = frames.at(-1); frame; frame = frames.at(-1)) {
    if (frame.next === frame.children.length) {
      frames.pop();
      continue;
    }
    const child = frame.children[frame.next++];
    if (!isNested(child)) continue;
    if (frames.length >= max) return true;
    frames.push({ children: childrenOf(child), next: 0 });
  }
  return false;
}

/** Documents already checked for values written too deep: yoga hands the same cached document to each run. */
const deepLiterals = new WeakMap<DocumentNode, boolean>();

/** Whether a list or object value written in `document` nests more than `max` levels deep (visit does not recurse). */
function literalsDeeperThan(document: DocumentNode, max: number): boolean {
  let known = deepLiterals.get(document);
  if (known === undefined) {
    let depth = 0;
    known = false;
    const level = {
      enter: () => {
        depth++;
        if (depth <= max) return undefined;
        known = true;
        return BREAK;
      },
      leave: () => {
        depth--;
      },
    };
    visit(document, { [Kind.LIST]: level, [Kind.OBJECT]: level });
    deepLiterals.set(document, known);
  }
  return known;
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

/** `error` without `extensions.originalError` (yoga's request parsers put the parser's own error there). */
function withoutOriginalError(error: GraphQLError): GraphQLError {
  if (error.extensions.originalError === undefined) return error;
  const { originalError: _dropped, code, ...extensions } = error.extensions;
  return codedError(error.message, code as ErrorCode, extensions);
}
