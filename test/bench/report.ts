import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { round } from './stats.js';

/** `PASS`/`MISS` against a target; `INFO` for a figure reported without one. */
export type Verdict = 'PASS' | 'MISS' | 'INFO';

export interface Metric {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The same figure measured on the baseline in the same run, when the target is relative. */
  readonly baseline?: number;
  /** `value / baseline`, or the value over the reference the target names (for example two round trips). */
  readonly ratio?: number;
  /** The target as written in the issue, for humans: `ratio >= 0.85`, `<= 51 calls`. */
  readonly target: string;
  readonly verdict: Verdict;
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  readonly metrics: readonly Metric[];
  /** Conditions of the run and what was learned (especially about a MISS). */
  readonly notes: readonly string[];
  /** Set when the scenario could not be measured; its targets then count as MISS. */
  readonly error?: string;
  readonly durationS: number;
}

export interface Machine {
  readonly cpuModel: string;
  readonly cpuCount: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

/** `pass` true → PASS, false → MISS. */
export const verdict = (pass: boolean): Verdict => (pass ? 'PASS' : 'MISS');

function formatNumber(value: number | undefined, unit = ''): string {
  if (value === undefined) return '';
  if (!Number.isFinite(value)) return String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  const text = value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit === '' ? text : `${text} ${unit}`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** The markdown table the README shows: one row per metric, one row per scenario that failed to run. */
export function renderTable(results: readonly ScenarioResult[]): string {
  const rows = [
    '| scenario | metric | value | baseline | ratio | target | result |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
  ];
  for (const result of results) {
    const scenario = `${result.id.toUpperCase()} ${result.title}`;
    for (const m of result.metrics) {
      rows.push(
        `| ${cell(scenario)} | ${cell(m.name)} | ${formatNumber(m.value, m.unit)} | ${formatNumber(m.baseline, m.unit)} | ` +
          `${m.ratio === undefined ? '' : formatNumber(m.ratio)} | ${cell(m.target)} | ${m.verdict} |`,
      );
    }
    if (result.error !== undefined) {
      rows.push(`| ${cell(scenario)} | (could not run) | | | | ${cell(firstLine(result.error))} | MISS |`);
    }
  }
  return rows.join('\n');
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

export function renderNotes(results: readonly ScenarioResult[]): string {
  const lines: string[] = [];
  for (const result of results) {
    const notes = result.error === undefined ? result.notes : [...result.notes, `error: ${result.error}`];
    if (notes.length === 0) continue;
    lines.push(`${result.id.toUpperCase()}:`);
    for (const note of notes) lines.push(`  - ${note}`);
  }
  return lines.join('\n');
}

export interface RunReport {
  readonly date: string;
  readonly machine: Machine;
  readonly settings: object;
  readonly scenarios: readonly ScenarioResult[];
}

/** Counts of each verdict, a scenario that could not run counting as one MISS. */
export function tally(results: readonly ScenarioResult[]): Record<Verdict, number> {
  const counts: Record<Verdict, number> = { PASS: 0, MISS: 0, INFO: 0 };
  for (const result of results) {
    for (const m of result.metrics) counts[m.verdict]++;
    if (result.error !== undefined) counts.MISS++;
  }
  return counts;
}

export async function writeReport(path: string, report: RunReport): Promise<void> {
  const roundDeep = (value: unknown): unknown =>
    typeof value === 'number'
      ? Number.isFinite(value)
        ? round(value, 3)
        : String(value)
      : Array.isArray(value)
        ? value.map(roundDeep)
        : value !== null && typeof value === 'object'
          ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundDeep(v)]))
          : value;
  await writeFile(path, `${JSON.stringify(roundDeep(report), null, 2)}\n`);
}
