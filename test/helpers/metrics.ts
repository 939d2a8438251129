/** One sample of a Prometheus text exposition: `name{labels} value`. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** `\\`, `\"` and `\n` inside a label value (the text format's escapes). */
const unescape = (value: string): string => value.replace(/\\(["\\n])/g, (_all, c: string) => (c === 'n' ? '\n' : c));

/**
 * Parses the Prometheus text format (version 0.0.4), line by line: comments (`# HELP`, `# TYPE`) are skipped,
 * every other line is one sample. Throws on a line that is neither, so a malformed exposition fails the test.
 */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!head) throw new Error(`not a sample line: ${line}`);
    const name = head[1] as string;
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      rest = rest.slice(1);
      for (;;) {
        if (rest.startsWith('}')) {
          rest = rest.slice(1);
          break;
        }
        const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/.exec(rest);
        if (!label) throw new Error(`malformed labels in: ${line}`);
        labels[label[1] as string] = unescape(label[2] as string);
        rest = rest.slice(label[0].length);
      }
    }
    const value = rest.trim().split(' ')[0] ?? '';
    // prom-client writes NaN as `Nan`; the format's readers take it case-insensitively.
    const number = value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value);
    if (value === '' || (Number.isNaN(number) && value.toLowerCase() !== 'nan'))
      throw new Error(`malformed value in: ${line}`);
    samples.push({ name, labels, value: number });
  }
  return samples;
}

/** The samples of one scrape, and lookups by name and labels. */
export class Scrape {
  readonly samples: readonly Sample[];

  constructor(readonly text: string) {
    this.samples = parseExposition(text);
  }

  /** Samples named `name` whose labels include `labels`. */
  all(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
    );
  }

  /** The value of the one sample named `name` with exactly `labels`; 0 when there is none (a series not yet seen). */
  value(name: string, labels: Record<string, string> = {}): number {
    const wanted = Object.keys(labels).length;
    const found = this.all(name, labels).filter((s) => Object.keys(s.labels).length === wanted);
    if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
    return found[0]?.value ?? 0;
  }

  /** Sum of the samples named `name` whose labels include `labels`. */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.all(name, labels).reduce((total, s) => total + s.value, 0);
  }
}

/** GETs a metrics URL and parses the answer; fails unless it is a 200 in the Prometheus text format. */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 300)}`);
  if (!response.headers.get('content-type')?.startsWith('text/plain; version=0.0.4'))
    throw new Error(`${url} answered ${response.headers.get('content-type') ?? 'no content type'}`);
  return new Scrape(text);
}
