import { Histogram, Registry, type HistogramConfiguration } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TalliedHistogram } from '../../src/metrics/tallied-histogram.js';

/** The same histogram twice, each on a registry of its own: prom-client's, and the tallied one. */
function pair<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>) {
  const reference = new Registry();
  const tallied = new Registry();
  return {
    reference: { registry: reference, histogram: new Histogram<L>({ ...config, registers: [reference] }) },
    tallied: { registry: tallied, histogram: new TalliedHistogram<L>({ ...config, registers: [tallied] }) },
  };
}

/** A value on every side of every bound: below the first, on each, between, above the last, negative, fractional. */
function valuesAround(buckets: readonly number[]): number[] {
  const values = [-1, 0, buckets[buckets.length - 1]! * 10];
  for (const bound of buckets) values.push(bound, bound * 0.999, bound * 1.001, bound / 3);
  return values;
}

describe('TalliedHistogram', () => {
  it('exposes exactly what a prom-client Histogram fed the same observations exposes, labelled or not', async () => {
    const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];
    const plain = pair({ name: 'plain_seconds', help: 'Plain.', buckets });
    const labelled = pair({ name: 'routed_seconds', help: 'By route "quoted"\\.', labelNames: ['route'], buckets });
    const routes = ['GET /a', 'POST /b', 'GET /a/:id "x"'];
    valuesAround(buckets).forEach((value, i) => {
      for (const side of [plain.reference, plain.tallied]) side.histogram.observe(value);
      const route = routes[i % routes.length]!;
      for (const side of [labelled.reference, labelled.tallied]) side.histogram.observe({ route }, value);
    });
    for (const { reference, tallied } of [plain, labelled]) {
      const text = await tallied.registry.metrics();
      expect(text).toBe(await reference.registry.metrics());
      expect(text).toContain('_bucket{');
      expect(await tallied.histogram.get()).toEqual(await reference.histogram.get());
      expect(await tallied.registry.getMetricsAsJSON()).toEqual(await reference.registry.getMetricsAsJSON());
    }
    expect(await labelled.tallied.registry.metrics()).toContain('routed_seconds_count{route="GET /a"} ');
  });

  it('exposes an unlabelled histogram at 0 before anything is observed, and nothing after a reset, as prom-client does', async () => {
    const { reference, tallied } = pair({ name: 'idle_seconds', help: 'Idle.', buckets: [1, 2] });
    expect(await tallied.registry.metrics()).toBe(await reference.registry.metrics());
    expect(await tallied.registry.metrics()).toContain('\nidle_seconds_count 0');
    tallied.histogram.observe(1.5);
    reference.histogram.observe(1.5);
    tallied.histogram.reset();
    reference.histogram.reset();
    expect(await tallied.registry.metrics()).toBe(await reference.registry.metrics());
    expect(await tallied.registry.metrics()).not.toContain('idle_seconds_count');
    tallied.histogram.observe(0.5);
    reference.histogram.observe(0.5);
    expect(await tallied.registry.metrics()).toBe(await reference.registry.metrics());
  });

  it('refuses a value that is not a number, an unknown label and a missing one, and counts nothing for them', async () => {
    const { tallied } = pair({ name: 'strict_seconds', help: 'Strict.', labelNames: ['route'], buckets: [1] });
    expect(() => tallied.histogram.observe({ route: 'GET /a' }, Number.NaN)).toThrow('value is not a valid number');
    expect(() => tallied.histogram.observe({ route: 'GET /a' }, Number.POSITIVE_INFINITY)).toThrow(TypeError);
    const untyped = tallied.histogram as unknown as Histogram<string>;
    expect(() => untyped.observe({ route: 'GET /a', status: '200' }, 1)).toThrow('unknown label "status"');
    expect(() => untyped.observe({ status: '200' }, 1)).toThrow('unknown label "status"');
    expect(() => untyped.observe({}, 1)).toThrow('no value for label "route"');
    // After its series exists, a call with an extra label is still refused.
    tallied.histogram.observe({ route: 'GET /a' }, 1);
    expect(() => untyped.observe({ route: 'GET /a', status: '200' }, 1)).toThrow('unknown label "status"');
    expect(await tallied.registry.metrics()).toContain('strict_seconds_count{route="GET /a"} 1\n');
  });

  it('keeps apart series whose label values differ only in where one ends and the next begins', async () => {
    const { reference, tallied } = pair({
      name: 'pairs_seconds',
      help: 'Pairs.',
      labelNames: ['a', 'b'],
      buckets: [1],
    });
    for (const side of [reference, tallied]) {
      side.histogram.observe({ a: 'x\u0000y', b: 'z' }, 0.5);
      side.histogram.observe({ a: 'x', b: 'y\u0000z' }, 0.5);
      side.histogram.observe({ a: '1:x', b: '1:y' }, 0.5);
      side.histogram.observe({ a: '1:x1:y', b: '' }, 0.5);
    }
    const text = await tallied.registry.metrics();
    expect(text).toBe(await reference.registry.metrics());
    expect(text.split('\n').filter((line) => line.startsWith('pairs_seconds_count{'))).toHaveLength(4);
  });

  it('refuses buckets out of order or repeated, which prom-client would count differently', () => {
    expect(() => new TalliedHistogram({ name: 'unsorted', help: 'U.', buckets: [1, 0.5] })).toThrow('increasing order');
    expect(() => new TalliedHistogram({ name: 'repeated', help: 'R.', buckets: [1, 1, 2] })).toThrow(
      'increasing order',
    );
  });

  it('refuses the parts of the Histogram API it does not keep, instead of recording where nothing exposes it', () => {
    const { tallied } = pair({ name: 'partial_seconds', help: 'Partial.', labelNames: ['route'], buckets: [1] });
    expect(() => tallied.histogram.labels('GET /a')).toThrow('takes labels in observe(labels, value)');
    expect(() => tallied.histogram.startTimer()).toThrow('has no timers');
    expect(() => tallied.histogram.zero({ route: 'GET /a' })).toThrow('has no zero()');
    expect(() => new TalliedHistogram({ name: 'exemplars', help: 'E.', enableExemplars: true })).toThrow(
      'keeps no exemplars',
    );
  });
});
