// Native histograms in the browser: parsing the API's JSON, bucket ranges, layouts and
// quantiles (expected values from Prometheus 3.5's promqltest native_histograms.test).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { bucketRange, bucketSlots, histogramQuantile, parseHistogram, quantileName, usesCustomBuckets } from '../src/histogram.js';
import { formatNumber } from '../src/number.js';

/** A histogram in the API's JSON shape. */
const api = (count, sum, buckets) => ({ count: String(count), sum: String(sum), buckets: buckets.map((b) => b.map(String)).map((b) => [Number(b[0]), b[1], b[2], b[3]]) });

// {{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 buckets:[2 3 0 1 4]}}
const positive = parseHistogram(api(12, 100, [
  [3, '-0.001', '0.001', 2], [0, 0.5, 1, 2], [0, 1, 2, 3], [0, 4, 8, 1], [0, 8, 16, 4],
]));
// The same with n_buckets: mirrored below zero.
const negative = parseHistogram(api(12, 100, [
  [1, -16, -8, 4], [1, -8, -4, 1], [1, -2, -1, 3], [1, -1, -0.5, 2], [3, '-0.001', '0.001', 2],
]));
// Both: {{schema:0 count:24 sum:100 z_bucket:4 z_bucket_w:0.001 buckets:[2 3 0 1 4] n_buckets:[2 3 0 1 4]}}
const both = parseHistogram(api(24, 100, [
  [1, -16, -8, 4], [1, -8, -4, 1], [1, -2, -1, 3], [1, -1, -0.5, 2], [3, '-0.001', '0.001', 4],
  [0, 0.5, 1, 2], [0, 1, 2, 3], [0, 4, 8, 1], [0, 8, 16, 4],
]));

const close = (actual, expected, what) => {
  const tol = 1e-12 * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not ${expected}`);
};

test('the API JSON parses into numbers, buckets from the lowest, junk dropped', () => {
  const h = parseHistogram({
    count: '3', sum: '+Inf',
    buckets: [[0, '1', '2', '1'], 'junk', [0, '2', '1', '1'], [7, '0', '1', '1'], [0, '0.5', '1', '2'], [1, '-Inf', '-1', 'x']],
  });
  assert.equal(h.count, 3);
  assert.equal(h.sum, Infinity);
  assert.deepEqual(h.buckets, [{ rule: 0, lower: 0.5, upper: 1, count: 2 }, { rule: 0, lower: 1, upper: 2, count: 1 }]);
  assert.equal(parseHistogram(null), null);
  assert.equal(parseHistogram('12'), null);
  assert.equal(parseHistogram([1, 2]), null);
  assert.deepEqual(parseHistogram({ count: '0', sum: '0' }).buckets, []);
});

test('bucket ranges show the boundary rule and enough digits to tell buckets apart', () => {
  assert.equal(bucketRange({ rule: 0, lower: 0.5, upper: 1 }), '(0.5, 1]');
  assert.equal(bucketRange({ rule: 1, lower: -2, upper: -1 }), '[-2, -1)');
  assert.equal(bucketRange({ rule: 2, lower: 1, upper: 2 }), '(1, 2)');
  assert.equal(bucketRange({ rule: 3, lower: -0.001, upper: 0.001 }), '[-0.001, 0.001]');
  assert.equal(bucketRange({ rule: 0, lower: 10, upper: Infinity }), '(10, +Inf]');
  assert.equal(bucketRange({ rule: 0, lower: -Infinity, upper: 0.005 }), '(-Inf, 0.005]');
  // Schema 8 neighbours differ in the 4th digit.
  const lo = 2 ** (22 / 256);
  const hi = 2 ** (23 / 256);
  assert.equal(bucketRange({ rule: 0, lower: lo, upper: hi }), '(1.0614, 1.0643]');
  assert.equal(formatNumber(1234567), '1235000');
  assert.equal(formatNumber(2.5e-7), '2.5e-7');
  assert.equal(formatNumber(3e12, 3), '3e+12');
  assert.equal(formatNumber(NaN), 'NaN');
  assert.equal(quantileName(0.5), 'p50');
  assert.equal(quantileName(0.999), 'p99.9');
});

test('exponential and custom layouts are told apart from the bounds', () => {
  assert.equal(usesCustomBuckets(positive.buckets), false);
  assert.equal(usesCustomBuckets(negative.buckets), false);
  assert.equal(usesCustomBuckets([]), false);
  const b = (lower, upper) => ({ rule: 0, lower, upper, count: 1 });
  // Schema 1: (2^0.5, 2], (2, 2^1.5]; the lowest bucket may start at the zero threshold.
  assert.equal(usesCustomBuckets([b(1.2, 2 ** 0.5), b(2 ** 0.5, 2), b(2, 2 ** 1.5)]), false);
  assert.equal(usesCustomBuckets([b(1, 2 ** 0.25)]), false);
  // Custom: infinite bounds, bounds off the grid, unequal widths, a bound at zero.
  assert.equal(usesCustomBuckets([b(0.001, 2 ** 0.5), b(2 ** 0.5, 2)]), true);
  assert.equal(usesCustomBuckets([b(-Infinity, 0.1), b(0.1, 0.5)]), true);
  assert.equal(usesCustomBuckets([b(5, 10), b(10, Infinity)]), true);
  assert.equal(usesCustomBuckets([b(0.1, 0.3)]), true);
  assert.equal(usesCustomBuckets([b(0.1, 0.5), b(0.5, 1)]), true);
  assert.equal(usesCustomBuckets([b(1, 2), b(2, 4), b(4, 16)]), true);
  assert.equal(usesCustomBuckets([b(0, 1), b(1, 2)]), true);
  assert.equal(usesCustomBuckets([b(-1, 1), b(1, 2)]), true);
});

test('quantiles of positive buckets and a zero bucket (histogram_quantile_1)', () => {
  const cases = [[1, 16], [0.99, 15.67072476139083], [0.9, 12.99603834169977], [0.6, 4.594793419988138],
    [0.5, 1.5874010519681994], [0.1, 0.0006], [0, 0]];
  for (const [q, want] of cases) close(histogramQuantile(q, positive), want, `q=${q}`);
  assert.equal(histogramQuantile(1.001, positive), Infinity);
  assert.equal(histogramQuantile(-1, positive), -Infinity);
  assert.ok(Number.isNaN(histogramQuantile(NaN, positive)));
});

test('quantiles of negative buckets are mirrored (histogram_quantile_2)', () => {
  const cases = [[1, 0], [0.99, -0.00006], [0.9, -0.0006], [0.5, -1.5874010519681996], [0.1, -12.996038341699768], [0, -16]];
  for (const [q, want] of cases) close(histogramQuantile(q, negative), want, `q=${q}`);
});

test('quantiles across both sides of zero (histogram_quantile_3)', () => {
  const cases = [[1, 16], [0.99, 15.34822590920423], [0.9, 10.556063286183155], [0.7, 1.2030250360821164],
    [0.55, 0.0006], [0.5, 0], [0.45, -0.0006], [0.3, -1.2030250360821169], [0.1, -10.556063286183155],
    [0.01, -15.34822590920423], [0, -16]];
  for (const [q, want] of cases) close(histogramQuantile(q, both), want, `q=${q}`);
});

test('quantiles at other schemas, of a zero bucket alone, and of an empty histogram', () => {
  const one = (lower, upper) => parseHistogram(api(5, 4, [[0, lower, upper, 5]]));
  close(histogramQuantile(0.5, one(1, 4)), 2, 'schema -1');
  close(histogramQuantile(0.5, one(1, 2 ** 0.5)), 1.189207115002721, 'schema 1');
  close(histogramQuantile(0.5, one(2 ** 0.5, 2)), 1.6817928305074292, 'schema 1, next bucket');
  // {{schema:0 z_bucket:1 z_bucket_w:0.5 sum:0.25 count:1}}: equally around zero.
  close(histogramQuantile(0.5, parseHistogram(api(1, 0.25, [[3, -0.5, 0.5, 1]]))), 0, 'zero bucket only');
  assert.ok(Number.isNaN(histogramQuantile(0.5, parseHistogram(api(0, 0, [])))));
  // A quantile in a run of empty buckets is the lower bound of the next populated one.
  const balanced = parseHistogram(api(8, 0, [[1, -4, -2, 1], [1, -2, -1, 2], [1, -1, -0.5, 1], [0, 0.5, 1, 1], [0, 1, 2, 2], [0, 2, 4, 1]]));
  close(histogramQuantile(0.5, balanced), 0.5, 'balanced');
});

test('NaN observations: forward search, the highest bound when the rank is never reached', () => {
  const h = parseHistogram(api(10, 'NaN', [[0, 1, 2, 8]]));
  assert.equal(histogramQuantile(0.99, h), 2);
  close(histogramQuantile(0.5, h), 2 ** (5 / 8), 'median');
});

test('custom buckets interpolate linearly; the open-ended ones answer their finite bound', () => {
  const h = parseHistogram(api(5, 3, [[0, '-Inf', 0.1, 1], [0, 0.1, 0.5, 2], [0, 0.5, 1, 1], [0, 1, '+Inf', 1]]));
  close(histogramQuantile(0.1, h), 0.05, 'lowest bucket from 0');
  close(histogramQuantile(0.5, h), 0.4, 'linear');
  close(histogramQuantile(0.99, h), 1, '+Inf bucket');
  const belowZero = parseHistogram(api(2, -3, [[0, '-Inf', -1, 1], [0, -1, 0, 1]]));
  assert.equal(histogramQuantile(0.25, belowZero), -1);
  close(histogramQuantile(0.75, belowZero), -0.5, 'linear below zero');
});

test('bar slots keep exponential buckets on a log scale: a gap per empty bucket', () => {
  const slots = (h) => bucketSlots(h.buckets).map((b) => (b === null ? '_' : `${b.lower}`)).join(' ');
  // (2, 4] is empty; the zero bucket is one gap away from (0.5, 1] whatever lies between.
  assert.equal(slots(positive), '-0.001 _ 0.5 1 _ 4 8');
  assert.equal(slots(negative), '-16 -8 _ -2 -1 _ -0.001');
  const b = (lower, upper) => ({ rule: 0, lower, upper, count: 1 });
  // Custom: one gap for any number of empty buckets; long runs are capped.
  assert.equal(bucketSlots([b(0.1, 0.5), b(1, 2.5)]).length, 3);
  assert.equal(bucketSlots([b(1, 2), b(2 ** 20, 2 ** 21)], 8).length, 10);
  assert.deepEqual(bucketSlots([]), []);
});
