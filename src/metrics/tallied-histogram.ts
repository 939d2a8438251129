import { Histogram, type Aggregator, type HistogramConfiguration, type LabelValues } from 'prom-client';

/** One series: its label values, the observations per bucket (not cumulative; the last is above every bound), sum. */
interface Series<L extends string> {
  readonly labels: LabelValues<L>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** What prom-client's registry formats for one exposition line (node_modules/prom-client/lib/histogram.js). */
interface ExportedValue<L extends string> {
  labels: Record<string, string | number>;
  sharedLabels: LabelValues<L>;
  value: number;
  metricName: string;
  exemplar?: null;
}

/** A histogram's values as prom-client's `getForPromString` gives them to its registry. */
interface ExportedHistogram<L extends string> {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: Aggregator;
  values: ExportedValue<L>[];
}

/** Whether `value` is a histogram's labels rather than a value (prom-client's `observe(labels, value)` shape). */
const isLabels = <L extends string>(value: unknown): value is LabelValues<L> =>
  value !== null && typeof value === 'object';

/**
 * A prom-client Histogram whose observations are tallied in plain numbers and handed to prom-client's registry when
 * it is scraped, as {@link TalliedCounter} does for counters. prom-client's `observe` checks the label names, hashes
 * the label values into a string and finds the bucket by a number-keyed property on every call
 * (node_modules/prom-client/lib/histogram.js); an operation observes three histograms (its duration, its cost, its
 * upstream call), which CPU profiles of the gateway under S1OPS's load put at about 5 µs of the ~30 that metrics and
 * logs add to a request. Here a series is found by its label values (one Map lookup) and counted in an array.
 *
 * It stays a Histogram for whoever takes one (Yoga's Prometheus plugin records into it), and the text exposition is
 * prom-client's own, formatted by its registry from the values this class hands over (`getForPromString`; `get` for
 * JSON): a test compares it with a prom-client Histogram fed the same observations. Unlike prom-client's, every label
 * must have a value. What nothing here needs is refused rather than half-supported: exemplars, `labels()`,
 * `startTimer`, `zero` and `remove`.
 */
export class TalliedHistogram<L extends string = string> extends Histogram<L> {
  private readonly metricName: string;
  private readonly metricHelp: string;
  private readonly metricAggregator: Aggregator;
  private readonly bounds: readonly number[];
  private readonly names: readonly L[];
  private readonly series = new Map<string, Series<L>>();

  constructor(config: HistogramConfiguration<L>) {
    if (config.enableExemplars || config.collect) {
      throw new Error(`${config.name}: a TalliedHistogram keeps no exemplars and takes no collect function`);
    }
    super(config);
    this.metricName = config.name;
    this.metricHelp = config.help;
    this.metricAggregator = config.aggregator ?? 'sum';
    const bounds = config.buckets ?? (this as unknown as { upperBounds: readonly number[] }).upperBounds;
    // prom-client counts a repeated bound twice over (its buckets are keyed by bound); neither of us sorts them.
    if (bounds.some((bound, i) => i > 0 && !(bound > (bounds[i - 1] as number)))) {
      throw new Error(`${config.name}: buckets must be in increasing order, each once`);
    }
    this.bounds = bounds;
    this.names = [...(config.labelNames ?? [])];
    // prom-client assigns `observe` on the instance, which would hide a method of this class.
    this.observe = ((first: LabelValues<L> | number, second?: number) =>
      isLabels<L>(first) ? this.record(first, second) : this.record({}, first)) as Histogram<L>['observe'];
    // An unlabelled histogram has its one series from the start, as prom-client's would.
    if (this.names.length === 0) this.seriesOf({});
  }

  private record(labels: LabelValues<L>, value: number | undefined): void {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new TypeError(`${this.metricName}: value is not a valid number: ${String(value)}`);
    }
    const series = this.seriesOf(labels);
    const bounds = this.bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > (bounds[bucket] as number)) bucket++;
    (series.counts[bucket] as number)++;
    series.sum += value;
    series.count++;
  }

  private seriesOf(labels: LabelValues<L>): Series<L> {
    const names = this.names;
    let given = 0;
    // A count without allocating: with as many labels as names, and a value for each name, none is unknown.
    for (const name in labels) if (Object.hasOwn(labels, name)) given++;
    if (given !== names.length) this.refuseUnknown(labels);
    let key = '';
    for (let i = 0; i < names.length; i++) {
      const value = labels[names[i] as L];
      if (value === undefined) {
        this.refuseUnknown(labels);
        throw new Error(`${this.metricName}: no value for label "${String(names[i])}"`);
      }
      const text = String(value);
      // One label's value is its key; several are each length-prefixed, so that no two lists make the same key.
      key = names.length === 1 ? text : `${key}${text.length}:${text}`;
    }
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: { ...labels }, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.series.set(key, series);
    }
    return series;
  }

  private refuseUnknown(labels: LabelValues<L>): void {
    const unknown = Object.keys(labels).find((name) => !this.names.includes(name as L));
    if (unknown !== undefined) throw new Error(`${this.metricName}: unknown label "${unknown}"`);
  }

  /** prom-client's registry reads this when it exists (node_modules/prom-client/lib/registry.js). */
  getForPromString(): ExportedHistogram<L> {
    const bucketName = `${this.metricName}_bucket`;
    const values: ExportedValue<L>[] = [];
    for (const { labels, counts, sum, count } of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += counts[i] as number;
        values.push({
          labels: { le },
          value: cumulative,
          metricName: bucketName,
          exemplar: null,
          sharedLabels: labels,
        });
      });
      values.push(
        { labels: { le: '+Inf' }, value: count, metricName: bucketName, exemplar: null, sharedLabels: labels },
        { labels: {}, value: sum, metricName: `${this.metricName}_sum`, sharedLabels: labels },
        { labels: {}, value: count, metricName: `${this.metricName}_count`, sharedLabels: labels },
      );
    }
    return {
      name: this.metricName,
      help: this.metricHelp,
      type: 'histogram',
      aggregator: this.metricAggregator,
      values,
    };
  }

  override get(): ReturnType<Histogram<L>['get']> {
    const data = this.getForPromString();
    // As prom-client's `get`: each value's own labels (`le`) with the series' labels added after them.
    const values = data.values.map(({ sharedLabels, ...value }) => ({
      ...value,
      labels: { ...value.labels, ...sharedLabels },
    }));
    // prom-client declares `type` as a numeric enum; at run time it is the string (lib/histogram.js), as here.
    return Promise.resolve({ ...data, values } as unknown as Awaited<ReturnType<Histogram<L>['get']>>);
  }

  override reset(): void {
    // prom-client's constructor calls this before this class's fields exist.
    if ((this.series as Map<string, Series<L>> | undefined) === undefined) return;
    // As prom-client's: every series goes, an unlabelled one's too, until it is observed again.
    this.series.clear();
  }

  override labels(..._values: unknown[]): never {
    throw new Error(`${this.metricName}: a TalliedHistogram takes labels in observe(labels, value)`);
  }

  override startTimer(..._labels: unknown[]): never {
    throw new Error(`${this.metricName}: a TalliedHistogram has no timers`);
  }

  override zero(..._labels: unknown[]): never {
    throw new Error(`${this.metricName}: a TalliedHistogram has no zero()`);
  }

  override remove(..._values: unknown[]): never {
    throw new Error(`${this.metricName}: a TalliedHistogram has no remove()`);
  }
}
