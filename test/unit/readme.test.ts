import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { errorCodeTable, TABLE_END, TABLE_START } from '../../scripts/error-codes.js';
import { DEMO_CLASSES, DEMO_WORKFLOWS } from '../../src/emulator/demo/index.js';
import { ERROR_CODES } from '../../src/errors/codes.js';
import { schema } from '../../src/schema/index.js';
import { DEFAULT_QUERY } from '../../src/graphiql.js';
import { readme, readmeBlocks } from '../helpers/readme.js';

describe('documented operations', () => {
  it('every graphql block in the README is valid against the schema', async () => {
    const blocks = await readmeBlocks('graphql');
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) expect(validate(schema, parse(block)).map((e) => e.message)).toEqual([]);
  });

  it("GraphiQL's default query is valid against the schema", () => {
    expect(validate(schema, parse(DEFAULT_QUERY)).map((e) => e.message)).toEqual([]);
  });
});

describe('the README table of every extensions.code', () => {
  it('is the one scripts/error-codes.ts renders from src/errors/codes.ts', async () => {
    const text = await readme();
    const start = text.indexOf(TABLE_START);
    const end = text.indexOf(TABLE_END);
    expect(start, `README.md lacks the marker ${TABLE_START}`).toBeGreaterThanOrEqual(0);
    expect(end, `README.md lacks the marker ${TABLE_END} after the start marker`).toBeGreaterThan(start);
    const table = text.slice(start + TABLE_START.length, end).trim();
    expect(
      table,
      "The README's error code table differs from src/errors/codes.ts: run `npx tsx scripts/error-codes.ts`",
    ).toBe(errorCodeTable());
    // One row per code, so a table rendered from an empty vocabulary would not pass either.
    expect(table.split('\n')).toHaveLength(Object.keys(ERROR_CODES).length + 2);
  });
});

/** What a demo workflow's declared graph (src/emulator/demo/) says a frontend developer needs to know. */
interface DemoFacts {
  readonly params: string[];
  /** Each sleep's name and duration, and each event wait's type and timeout. */
  readonly waits: string[];
}

function factsOf(graph: unknown): DemoFacts {
  const params: string[] = [];
  const waits: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    const record = node as Record<string, unknown>;
    if (record['type'] === 'step_sleep') waits.push(String(record['name']), String(record['duration']));
    if (record['type'] === 'step_wait_for_event') {
      const options = record['options'] as { event_type: string; timeout: string };
      waits.push(options.event_type, options.timeout);
    }
    if (record['type'] === 'object' && typeof record['fields'] === 'object' && record['fields'] !== null) {
      params.push(...Object.keys(record['fields']));
    }
    Object.values(record).forEach(visit);
  };
  visit(graph);
  return { params, waits };
}

/** The README's rows of "The demo workflows", by workflow name: the cells after the name. */
async function demoRows(): Promise<Map<string, string[]>> {
  const text = await readme();
  const start = text.indexOf('### The demo workflows');
  expect(start, 'README.md lacks the section "The demo workflows"').toBeGreaterThanOrEqual(0);
  const section = text.slice(start, text.indexOf('\n#', start + 1));
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n').filter((l) => l.startsWith('| `'))) {
    const [name, ...cells] = line
      .slice(1, -1)
      .split(' | ')
      .map((cell) => cell.trim());
    rows.set(name!.replaceAll('`', ''), cells);
  }
  return rows;
}

const backticked = (text: string): string[] => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** The params a cell names: the leading `name` of each comma-separated entry outside parentheses. */
function paramsNamed(cell: string): string[] {
  if (cell === 'none') return [];
  const entries: string[] = [];
  let depth = 0;
  let entry = '';
  for (const char of cell) {
    if (char === '(') depth++;
    if (char === ')') depth--;
    if (char === ',' && depth === 0) {
      entries.push(entry);
      entry = '';
    } else entry += char;
  }
  entries.push(entry);
  return entries.map((e) => /^\s*`([^`]+)`/.exec(e)?.[1] ?? `(no param name in "${e.trim()}")`);
}

describe('the README table of the demo workflows', () => {
  it('has one row per demo workflow', async () => {
    expect([...(await demoRows()).keys()].sort()).toEqual(DEMO_WORKFLOWS.map((w) => w.name).sort());
  });

  it("names each workflow's params, sleeps, event waits and schedules as its code declares them", async () => {
    const rows = await demoRows();
    let checked = 0;
    for (const workflow of DEMO_WORKFLOWS) {
      const [params = '', what = ''] = rows.get(workflow.name) ?? [];
      const facts = factsOf(DEMO_CLASSES.get(workflow.className)?.graph);
      expect(paramsNamed(params).sort(), `params of ${workflow.name}`).toEqual(facts.params.sort());
      const named = backticked(what);
      const declared = [...facts.waits, ...(workflow.schedules ?? []).map((s) => s.cron)];
      expect(
        declared.filter((fact) => !named.includes(fact)),
        `sleeps, event waits and schedules of ${workflow.name} missing from its README row`,
      ).toEqual([]);
      checked += declared.length + facts.params.length;
    }
    // The graphs were found and walked: order-fulfillment alone declares 3 params, a sleep and an event wait.
    expect(checked).toBeGreaterThan(10);
  });
});
