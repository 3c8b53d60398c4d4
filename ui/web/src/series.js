// Pure helpers over Prometheus query results: names, merging, stacking, uPlot data.

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

/** Prometheus sample value strings to numbers (NaN, +Inf, -Inf included). */
export function parseValue(v) {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return parseFloat(v);
}

/**
 * Series from a query_range/live result: [{metric, points: Map<tSec, value>}].
 * Scalars become one series named "scalar"; vectors one point each.
 */
export function toSeries(data) {
  if (!data) return [];
  const one = (metric, pairs) => ({ metric, points: new Map(pairs.map(([t, v]) => [Number(t), parseValue(v)])) });
  switch (data.resultType) {
    case 'matrix': return data.result.map((s) => one(s.metric, s.values ?? []));
    case 'vector': return data.result.map((s) => one(s.metric, [s.value]));
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
    if (existing) for (const [t, v] of s.points) existing.points.set(t, v);
    else byKey.set(key, { metric: s.metric, points: new Map(s.points) });
  }
  const out = [];
  for (const s of byKey.values()) {
    for (const t of [...s.points.keys()]) if (t < fromSec) s.points.delete(t);
    if (s.points.size) out.push(s);
  }
  return out;
}

/**
 * uPlot's columnar data: [xs, ys1, ys2, ...] over the union of timestamps (null where a
 * series has no point). With `stacked`, each column is the running sum of the ones before
 * (gaps count as 0 while a later series has a value).
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
    for (const col of cols) {
      for (let i = 0; i < xs.length; i++) {
        if (col[i] === null) continue;
        acc[i] += col[i];
        col[i] = acc[i];
      }
    }
  }
  return [xs, ...cols];
}

/** Number of points across all series. */
export function pointCount(series) {
  return series.reduce((n, s) => n + s.points.size, 0);
}
