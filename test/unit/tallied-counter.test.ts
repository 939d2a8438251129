import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TalliedCounter } from '../../src/metrics/tallied-counter.js';

describe('TalliedCounter', () => {
  it('exposes each series with its count, in the Prometheus text format, every time it is scraped', async () => {
    const registry = new Registry();
    const counter = new TalliedCounter({
      name: 'example_total',
      help: 'An example.',
      labelNames: ['route', 'status'],
      registry,
    });
    counter.of('GET /a', '200').inc();
    counter.of('GET /a', '200').inc();
    counter.of('GET /a', '404').inc();
    counter.of('GET /b', '200').inc();
    const series = (text: string) => text.split('\n').filter((line) => line.startsWith('example_total{'));
    expect(series(await registry.metrics())).toEqual([
      'example_total{route="GET /a",status="200"} 2',
      'example_total{route="GET /a",status="404"} 1',
      'example_total{route="GET /b",status="200"} 1',
    ]);
    // Scraping again neither doubles nor resets the counts.
    counter.of('GET /b', '200').inc();
    expect(series(await registry.metrics())).toEqual([
      'example_total{route="GET /a",status="200"} 2',
      'example_total{route="GET /a",status="404"} 1',
      'example_total{route="GET /b",status="200"} 2',
    ]);
    expect(await registry.metrics()).toContain('# TYPE example_total counter');
  });

  it('exposes an unlabelled counter at 0 before anything counted', async () => {
    const registry = new Registry();
    const counter = new TalliedCounter({ name: 'plain_total', help: 'Plain.', registry });
    expect(await registry.metrics()).toContain('\nplain_total 0\n');
    counter.of().inc();
    expect(await registry.metrics()).toContain('\nplain_total 1\n');
  });

  it('refuses label values that do not match its label names, and counts nothing for them', async () => {
    const registry = new Registry();
    const counter = new TalliedCounter({ name: 'pairs_total', help: 'Pairs.', labelNames: ['a', 'b'], registry });
    counter.of('x', 'y').inc();
    // The compiler refuses these; a cast (or plain JavaScript) gets them past it.
    const untyped = counter as unknown as { of(...values: string[]): unknown };
    expect(() => untyped.of('x')).toThrow('pairs_total: 1 label values for 2 label names');
    expect(() => untyped.of('x', 'y', 'z')).toThrow('pairs_total: 3 label values for 2 label names');
    expect((await registry.metrics()).split('\n').filter((line) => line.startsWith('pairs_total{'))).toEqual([
      'pairs_total{a="x",b="y"} 1',
    ]);
  });
});
