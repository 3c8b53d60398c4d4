// Unit tests of the pure modules (no DOM): node --test
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { applyCompletion, completionContext, escapeValue, rank } from '../src/complete.js';
import { ago, defaultStepMs, formatDuration, parseDuration, parseUtc, stepRange } from '../src/duration.js';
import { mergeSeries, seriesName, toColumns, toSeries } from '../src/series.js';
import { formatPanels, parsePanels } from '../src/url.js';

test('durations parse and format like Prometheus', () => {
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('15'), 15_000);
  assert.equal(parseDuration('1x'), null);
  assert.equal(parseDuration('h1'), null);
  assert.equal(parseDuration(''), null);
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(604_800_000), '1w');
  assert.equal(stepRange(3_600_000, 1), 7_200_000);
  assert.equal(stepRange(3_600_000, -1), 1_800_000);
  assert.equal(defaultStepMs(3_600_000), 14_000);
  assert.equal(defaultStepMs(60_000), 1000);
  assert.equal(parseUtc('2024-01-02 03:04:05'), Date.UTC(2024, 0, 2, 3, 4, 5));
  assert.equal(ago(1_000, 1_000 + 250), '250ms ago');
  assert.equal(ago(1_000, 1_000 + 3_200), '3.2s ago');
  assert.equal(ago(1_000, 1_000 + 5_400_000 + 36_000), '1h30m ago');
  assert.equal(ago(1_000, 1_000 + 46 * 604_800_000 + 3 * 86_400_000 + 5_000), '46w3d ago');
  assert.equal(ago(0), 'never');
});

test('graph URLs follow the g0.* convention both ways', () => {
  const [p] = parsePanels('?g0.expr=rate(x%5B5m%5D)&g0.range_input=1h&g0.tab=0');
  assert.equal(p.expr, 'rate(x[5m])');
  assert.equal(p.rangeMs, 3_600_000);
  assert.equal(p.tab, 0);
  const two = parsePanels('g1.expr=b&g0.expr=a&g0.tab=1&g0.stacked=1&g0.step_input=30&g0.end_input=2024-01-02%2003:04:05&g1.live=1');
  assert.deepEqual(two.map((x) => x.expr), ['a', 'b']);
  assert.equal(two[0].tab, 1);
  assert.equal(two[0].stacked, true);
  assert.equal(two[0].stepMs, 30_000);
  assert.equal(two[0].endMs, Date.UTC(2024, 0, 2, 3, 4, 5));
  assert.equal(two[1].live, true);
  assert.equal(two[0].histView, 'heatmap');
  const [q] = parsePanels('g0.expr=h&g0.hist_view=quantiles');
  assert.equal(q.histView, 'quantiles');
  assert.match(formatPanels([q]), /g0\.hist_view=quantiles/);
  assert.doesNotMatch(formatPanels(two), /hist_view/);
  assert.deepEqual(parsePanels(formatPanels(two)), two);
  assert.equal(parsePanels('').length, 1);
});

test('completion context: metric, label name, label value', () => {
  assert.deepEqual(completionContext('node_cp'), { kind: 'metric', prefix: 'node_cp' });
  assert.deepEqual(completionContext('rate(node_cp'), { kind: 'metric', prefix: 'node_cp' });
  assert.deepEqual(completionContext('up{'), { kind: 'label', prefix: '', metric: 'up' });
  assert.deepEqual(completionContext('up{job="a", ins'), { kind: 'label', prefix: 'ins', metric: 'up' });
  assert.deepEqual(completionContext('up{job=~"no'), { kind: 'value', prefix: 'no', label: 'job', metric: 'up', quote: '"' });
  assert.deepEqual(completionContext('{job!="'), { kind: 'value', prefix: '', label: 'job', metric: null, quote: '"' });
  assert.deepEqual(completionContext('sum by (jo'), { kind: 'label', prefix: 'jo', metric: null });
  assert.equal(completionContext('rate(x[5'), null);
  assert.equal(completionContext('up{job="a"'), null);
  assert.equal(completionContext('x > 1'), null);
  // The cursor, not the end of the text, decides.
  assert.deepEqual(completionContext('up{} + node', 3), { kind: 'label', prefix: '', metric: 'up' });
});

test('completion ranking and insertion', () => {
  const c = ['node_cpu_seconds_total', 'node_load1', 'process_cpu_seconds_total', 'up'].map((label) => ({ label }));
  assert.deepEqual(rank('cpu', c).map((x) => x.label), ['node_cpu_seconds_total', 'process_cpu_seconds_total']);
  assert.deepEqual(rank('node', c).map((x) => x.label), ['node_cpu_seconds_total', 'node_load1']);
  assert.deepEqual(rank('nl1', c).map((x) => x.label), ['node_load1']);
  assert.deepEqual(rank('up', c).map((x) => x.label), []);
  assert.deepEqual(applyCompletion('rate(no[5m])', 7, 'no', 'node_load1'), ['rate(node_load1[5m])', 15]);
  assert.equal(escapeValue('a"b\\c'), 'a\\"b\\\\c');
});

test('series: names, merge with a window, stacked columns', () => {
  assert.equal(seriesName({ __name__: 'up', job: 'a', instance: 'x' }), 'up{instance="x", job="a"}');
  assert.equal(seriesName({ __name__: 'up' }), 'up');
  assert.equal(seriesName({}), '{}');
  const base = toSeries({ resultType: 'matrix', result: [
    { metric: { a: '1' }, values: [[10, '1'], [20, '2']] },
    { metric: { a: '2' }, values: [[20, '5']] },
  ] });
  const merged = mergeSeries(base, toSeries({ resultType: 'vector', result: [
    { metric: { a: '1' }, value: [30, '3'] },
    { metric: { a: '3' }, value: [30, '+Inf'] },
  ] }), 15);
  assert.equal(merged.length, 3);
  assert.deepEqual([...merged[0].points.entries()], [[20, 2], [30, 3]]);
  assert.deepEqual(toColumns(merged, false), [[20, 30], [2, 3], [5, null], [null, null]]);
  assert.deepEqual(toColumns(merged.slice(0, 2), true), [[20, 30], [2, 3], [7, null]]);
  assert.deepEqual(toSeries({ resultType: 'scalar', result: [5, '1.5'] })[0].points.get(5), 1.5);
});
