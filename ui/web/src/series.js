// Pure helpers over Prometheus query results: names, merging, stacking, uPlot data.

import { histogramQuantile, parseHistogram, quantileName, usesCustomBuckets } from './histogram.js';
import { parseValue } from './number.js';

export { parseValue };

/** `name{a="1", b="2"}` of a metric's label set. */
export function seriesName(metric) {
  const name = metric.__name__ ?? '';
  const labels = Object.keys(metric)
    .filter((k) => k !== '__name__')
    .sort()
    .map((k) => `${k}="${metric[k]}"`);
  return labels.length || !name ? `${name}{${labels.join(', ')}}` : name;
}

/** A stable key for a label set. */
export function seriesKey(metric) {
  return JSON.stringify(Object.keys(metric).sort().map((k) => [k, metric[k]]));
}

/**
 * Series from a query_range/live result: [{metric, points: Map<tSec, value>,
 * histograms: Map<tSec, histogram>}] (histograms as histogram.js parses them).
 * Scalars become one series named "scalar"; vectors one point each.
 */
export function toSeries(data) {
  if (!data) return [];
  const one = (metric, pairs, hists = []) => ({
    metric,
    points: new Map(pairs.map(([t, v]) => [Number(t), parseValue(v)])),
    histograms: new Map(hists.map(([t, h]) => [Number(t), parseHistogram(h)]).filter(([, h]) => h !== null)),
  });
  switch (data.resultType) {
    case 'matrix': return data.result.map((s) => one(s.metric, s.values ?? [], s.histograms ?? []));
    case 'vector': return data.result.map((s) => (s.histogram ? one(s.metric, [], [s.histogram]) : one(s.metric, [s.value])));
    case 'scalar': return [one({ __name__: 'scalar' }, [data.result])];
    default: return [];
  }
}

/** Adds live points to `series` (by label set), dropping points before `fromSec`. */
export function mergeSeries(series, incoming, fromSec) {
  const byKey = new Map(series.map((s) => [seriesKey(s.metric), s]));
  for (const s of incoming) {
    const key = seriesKey(s.metric);
    const existing = byKey.get(key);
    if (existing) {
      for (const [t, v] of s.points) existing.points.set(t, v);
      for (const [t, h] of s.histograms) existing.histograms.set(t, h);
    } else {
      byKey.set(key, { metric: s.metric, points: new Map(s.points), histograms: new Map(s.histograms) });
    }
  }
  const out = [];
  for (const s of byKey.values()) {
    for (const m of [s.points, s.histograms]) for (const t of [...m.keys()]) if (t < fromSec) m.delete(t);
    if (s.points.size || s.histograms.size) out.push(s);
  }
  return out;
}

/** Whether any of `series` has a histogram sample. */
export function hasHistograms(series) {
  return series.some((s) => s.histograms.size > 0);
}

/**
 * The quantile lines of the histogram series: for each series with histograms and each
 * of `quantiles`, a float series labelled `name{...} p90` whose points are that quantile
 * of each histogram sample (log-linear interpolation in exponential buckets, linear in
 * custom and zero buckets, as Prometheus computes it).
 */
export function quantileSeries(series, quantiles) {
  const out = [];
  for (const s of series) {
    if (!s.histograms.size) continue;
    const layouts = new Map([...s.histograms].map(([t, h]) => [t, usesCustomBuckets(h.buckets)]));
    for (const q of quantiles) {
      const points = new Map([...s.histograms].map(([t, h]) => [t, histogramQuantile(q, h, layouts.get(t))]));
      out.push({ metric: s.metric, label: `${seriesName(s.metric)} ${quantileName(q)}`, points, histograms: new Map(), quantile: q });
    }
  }
  return out;
}

/**
 * uPlot's columnar data: [xs, ys1, ys2, ...] over the union of timestamps (null where a
 * series has no point). With `stacked`, each column is the running sum of the ones before
 * (gaps count as 0 while a later series has a value); quantile lines are never stacked.
 */
export function toColumns(series, stacked) {
  const ts = new Set();
  for (const s of series) for (const t of s.points.keys()) ts.add(t);
  const xs = [...ts].sort((a, b) => a - b);
  const cols = series.map((s) => xs.map((t) => {
    const v = s.points.get(t);
    return v === undefined || !Number.isFinite(v) ? null : v;
  }));
  if (stacked) {
    const acc = xs.map(() => 0);
    cols.forEach((col, c) => {
      if (series[c].quantile !== undefined) return;
      for (let i = 0; i < xs.length; i++) {
        if (col[i] === null) continue;
        acc[i] += col[i];
        col[i] = acc[i];
      }
    });
  }
  return [xs, ...cols];
}

/** Number of points (float and histogram samples) across all series. */
export function pointCount(series) {
  return series.reduce((n, s) => n + s.points.size + (s.histograms ? s.histograms.size : 0), 0);
}
