// What the router's records become: counts and latency histograms per location (region), revision
// and code class,
// stamped and timed on the injected clock (a time-scaled stack's), kept for an hour.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RequestMetrics } from './metrics.ts';

const T0 = Date.parse('2026-11-23T10:00:00Z');

describe('request metrics', () => {
  test('start() times a request on the injected clock, in that clock’s milliseconds', () => {
    // A stack at time scale 60: 50 ms of wall time is 3 s on its clock, and 3 s is recorded.
    let wall = 0;
    const scaled = () => T0 + wall * 60;
    const metrics = new RequestMetrics(scaled);
    const done = metrics.start('us-central1', 'web', 'web-a');
    wall += 50;
    done(200);
    const [only] = metrics.latencies(T0, T0 + 60_000);
    assert.equal(only?.latencies.count, 1);
    assert.equal(only?.latencies.sum, 3000);
    assert.deepEqual(metrics.counts(T0, T0 + 60_000), [
      { location: 'us-central1', service: 'web', revision: 'web-a', codeClass: '2xx', count: 1 },
    ]);
  });

  test('a separate latency clock records wall time instead', () => {
    let wall = 0;
    const metrics = new RequestMetrics(
      () => T0 + wall * 60,
      () => wall,
    );
    const done = metrics.start('us-central1', 'web', 'web-a');
    wall += 50;
    done(503);
    const [only] = metrics.latencies(T0, T0 + 60_000);
    assert.equal(only?.codeClass, '5xx');
    assert.equal(only?.latencies.sum, 50);
  });

  test('a request is stamped in the second it ended; windows are [start, end)', () => {
    let now = T0;
    const metrics = new RequestMetrics(() => now);
    for (let s = 0; s < 10; s++) {
      now = T0 + s * 1000;
      metrics.record('us-central1', 'web', 'web-a', 200, s);
    }
    const window = (from: number, to: number) =>
      metrics.latencies(T0 + from * 1000, T0 + to * 1000)[0]?.latencies.count ?? 0;
    assert.equal(window(0, 10), 10);
    assert.equal(window(2, 5), 3);
    assert.equal(window(10, 20), 0);
  });

  test('the same service and revision names in two regions are kept apart', () => {
    const metrics = new RequestMetrics(() => T0);
    const rev = 'web-0123456789ab';
    metrics.start('us-central1', 'web', rev)(200);
    for (let i = 0; i < 3; i++) metrics.record('europe-west1', 'web', rev, 200, 5);
    metrics.record('europe-west1', 'web', rev, 500, 5);
    const want = { 'us-central1/2xx': 1, 'europe-west1/2xx': 3, 'europe-west1/5xx': 1 };
    const counts = metrics.counts(T0, T0 + 1000);
    assert.deepEqual(
      Object.fromEntries(counts.map((r) => [`${r.location}/${r.codeClass}`, r.count])),
      want,
    );
    const timed = metrics.latencies(T0, T0 + 1000);
    assert.deepEqual(
      Object.fromEntries(timed.map((r) => [`${r.location}/${r.codeClass}`, r.latencies.count])),
      want,
    );
  });

  test('requests recorded without a latency are counted, not timed', () => {
    const metrics = new RequestMetrics(() => T0);
    metrics.record('us-central1', 'web', 'web-a', 200);
    metrics.record('us-central1', 'web', 'web-a', 200, 12);
    assert.equal(metrics.counts(T0, T0 + 1000)[0]?.count, 2);
    assert.equal(metrics.latencies(T0, T0 + 1000)[0]?.latencies.count, 1);
  });

  test('memory stays bounded: an hour of one revision keeps a few buckets a second', () => {
    let now = T0;
    const metrics = new RequestMetrics(() => now);
    for (let s = 0; s < 7200; s++) {
      now = T0 + s * 1000;
      for (let i = 0; i < 20; i++)
        metrics.record('us-central1', 'web', 'web-a', 200, 1 + ((s * 20 + i) % 5000));
    }
    // Data older than an hour is pruned.
    assert.equal(metrics.latencies(T0, T0 + 3_000_000).length, 0);
    const [last] = metrics.latencies(T0 + 3_600_000, T0 + 7_200_000);
    assert.ok(last!.latencies.count > 3500 * 20);
    assert.ok(last!.latencies.buckets.size <= 72);
  });
});
