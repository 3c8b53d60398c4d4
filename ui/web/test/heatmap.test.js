// Histogram series over time: results with histograms, live merging, quantile lines and
// the heatmap's cells, scale and colours.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { cellAt, cellColor, heatmapCells } from '../src/heatmap.js';
import { parseHistogram } from '../src/histogram.js';
import { hasHistograms, mergeSeries, pointCount, quantileSeries, toColumns, toSeries } from '../src/series.js';

const H = (count, buckets) => ({ count: String(count), sum: '1', buckets: buckets.map(([r, l, u, c]) => [r, String(l), String(u), String(c)]) });

test('results with histograms: vectors, matrices with both kinds, live merging', () => {
  const vec = toSeries({ resultType: 'vector', result: [
    { metric: { __name__: 'a' }, value: [10, '1'] },
    { metric: { __name__: 'h' }, histogram: [10.5, H(2, [[0, 1, 2, 2]])] },
  ] });
  assert.equal(vec[0].points.get(10), 1);
  assert.equal(vec[0].histograms.size, 0);
  assert.equal(vec[1].points.size, 0);
  assert.deepEqual(vec[1].histograms.get(10.5), { count: 2, sum: 1, buckets: [{ rule: 0, lower: 1, upper: 2, count: 2 }] });
  assert.ok(hasHistograms(vec));
  assert.ok(!hasHistograms(vec.slice(0, 1)));

  const base = toSeries({ resultType: 'matrix', result: [
    { metric: { x: '1' }, values: [[10, '1']], histograms: [[20, H(1, [[0, 1, 2, 1]])], [30, 'junk']] },
  ] });
  assert.deepEqual([...base[0].histograms.keys()], [20]);
  assert.equal(pointCount(base), 2);
  const merged = mergeSeries(base, toSeries({ resultType: 'matrix', result: [
    { metric: { x: '1' }, histograms: [[40, H(3, [[0, 2, 4, 3]])]] },
    { metric: { x: '2' }, histograms: [[40, H(1, [[0, 2, 4, 1]])]] },
  ] }), 15);
  assert.equal(merged.length, 2);
  assert.deepEqual([...merged[0].points.keys()], []);
  assert.deepEqual([...merged[0].histograms.keys()], [20, 40]);
  // A series whose samples all left the window goes.
  assert.equal(mergeSeries(merged, [], 50).length, 0);
});

test('quantile lines: one float series per histogram series and quantile, never stacked', () => {
  const series = toSeries({ resultType: 'matrix', result: [
    { metric: { __name__: 'up' }, values: [[10, '1'], [20, '2']] },
    { metric: { __name__: 'lat', job: 'a' }, histograms: [[10, H(4, [[0, 1, 2, 4]])], [20, H(2, [[0, '-Inf', 1, 1], [0, 1, 5, 1]])]] },
  ] });
  const lines = quantileSeries(series, [0.5, 0.9]);
  assert.deepEqual(lines.map((l) => l.label), ['lat{job="a"} p50', 'lat{job="a"} p90']);
  assert.ok(Math.abs(lines[0].points.get(10) - Math.SQRT2) < 1e-12);
  // The second sample has custom buckets: linear in (1, 5].
  assert.ok(Math.abs(lines[1].points.get(20) - 4.2) < 1e-12);
  const cols = toColumns([series[0], series[0], ...lines], true);
  assert.deepEqual(cols[0], [10, 20]);
  assert.deepEqual(cols[2], [2, 4]);
  assert.ok(Math.abs(cols[3][0] - Math.SQRT2) < 1e-12);
});

/** Samples at 10, 20, 30 s of an exponential histogram with a zero bucket. */
const expSamples = [10, 20, 30].map((t, i) => [t, parseHistogram(H(4 + i, [[3, -0.001, 0.001, 1], [0, 1, 2, 2], [0, 2, 4, 1 + i]]))]);

test('heatmap of exponential buckets: a log scale, the zero bucket as a band at the bottom', () => {
  const hm = heatmapCells(expSamples, 10);
  assert.equal(hm.scale, 'log');
  assert.equal(hm.cells.length, 9);
  assert.equal(hm.maxCount, 3);
  const first = hm.cells.filter((c) => c.t === 10);
  assert.deepEqual(first.map((c) => [c.t0, c.t1, c.y0, c.y1, c.bucket.count]), [[5, 15, 0.5, 1, 1], [5, 15, 1, 2, 2], [5, 15, 2, 4, 1]]);
  assert.deepEqual([hm.yMin, hm.yMax], [0.5, 4]);
  assert.equal(cellAt(hm.cells, 21, 3).bucket.count, 2);
  assert.equal(cellAt(hm.cells, 21, 0.7).bucket.rule, 3);
  assert.equal(cellAt(hm.cells, 100, 3), null);
  // Without a step: the smallest gap.
  assert.equal(heatmapCells(expSamples).cells[0].t1, 15);
});

test('heatmap scales: asinh across zero, linear or log for custom buckets, open ends drawn one bucket wide', () => {
  const twoSided = heatmapCells([[10, parseHistogram(H(2, [[1, -2, -1, 1], [0, 1, 2, 1]]))]], 10);
  assert.equal(twoSided.scale, 'asinh');
  assert.deepEqual([twoSided.yMin, twoSided.yMax, twoSided.linthresh], [-2, 2, 1]);

  const narrow = heatmapCells([[10, parseHistogram(H(3, [[0, '-Inf', 1, 1], [0, 1, 3, 1], [0, 3, '+Inf', 1]]))]], 10);
  assert.equal(narrow.scale, 'linear');
  assert.deepEqual(narrow.cells.map((c) => [c.y0, c.y1]), [[-1, 1], [1, 3], [3, 5]]);

  const wide = heatmapCells([[10, parseHistogram(H(3, [[0, '-Inf', 0.005, 1], [0, 0.005, 0.1, 1], [0, 10, '+Inf', 1]]))]], 10);
  assert.equal(wide.scale, 'log');
  assert.deepEqual(wide.cells.map((c) => [c.y0, c.y1]), [[0.0025, 0.005], [0.005, 0.1], [10, 20]]);

  const empty = heatmapCells([], 10);
  assert.deepEqual([empty.cells.length, empty.yMin, empty.yMax], [0, 0, 1]);
});

test('cell colours run from pale to dark with the square root of the count', () => {
  assert.equal(cellColor(0, 10), 'rgb(255, 255, 204)');
  assert.equal(cellColor(10, 10), 'rgb(63, 0, 125)');
  assert.equal(cellColor(20, 10), 'rgb(63, 0, 125)');
  assert.equal(cellColor(1, 0), 'rgb(255, 255, 204)');
  // sqrt(0.25) = 0.5: halfway along the ramp, between its 3rd and 4th stops.
  assert.equal(cellColor(2.5, 10), 'rgb(240, 84, 44)');
});
