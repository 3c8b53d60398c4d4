// The table view of an instant query result: a row per series, floats as text, native
// histograms as count, sum and quantiles over a bar per bucket, with the bucket list
// (range, count, cumulative share) one click away.

import { h, note } from './dom.js';
import { bucketRange, bucketSlots, histogramQuantile, parseHistogram, QUANTILES, quantileName, usesCustomBuckets } from './histogram.js';
import { formatNumber, parseValue } from './number.js';
import { seriesName } from './series.js';

const MAX_TABLE_ROWS = 10_000;

/** The table of `data` (a query result). */
export function resultTable(data) {
  if (data.resultType === 'scalar' || data.resultType === 'string') {
    return h('table', { class: 'result-table' }, h('tbody', {}, h('tr', {}, h('td', {}, data.resultType), h('td', { class: 'value' }, String(data.result[1])))));
  }
  const rows = data.result ?? [];
  if (!rows.length) return note('empty', 'Empty query result');
  const shown = rows.slice(0, MAX_TABLE_ROWS);
  return h('div', {},
    rows.length > MAX_TABLE_ROWS ? note('warn', `Showing ${MAX_TABLE_ROWS} of ${rows.length} series`) : null,
    h('table', { class: 'result-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Series'), h('th', {}, 'Value'))),
      h('tbody', {}, shown.map((r) => h('tr', {},
        h('td', { class: 'series' }, seriesName(r.metric)),
        valueCell(r))))));
}

/** The value cell of a vector sample or a matrix series. */
function valueCell(r) {
  if (r.value) return h('td', { class: 'value' }, String(parseValue(r.value[1])));
  if (r.histogram) return h('td', { class: 'value histogram' }, histogramView(parseHistogram(r.histogram[1])));
  const floats = (r.values ?? []).map((v) => `${v[1]} @${v[0]}`).join('\n');
  if (!r.histograms) return h('td', { class: 'value' }, floats);
  return h('td', { class: 'value histogram' }, floats || null,
    r.histograms.map(([t, hist]) => h('div', { class: 'hist-point' }, histogramView(parseHistogram(hist), `@${t}`))));
}

/** One histogram sample: summary, bars, bucket list. `suffix` follows the summary. */
export function histogramView(hist, suffix = null) {
  if (!hist) return h('span', { class: 'hist-invalid' }, 'invalid histogram');
  const custom = usesCustomBuckets(hist.buckets);
  const quantiles = hist.count > 0 && hist.buckets.length
    ? QUANTILES.map((q) => h('span', { class: 'hist-q' }, ` · ${quantileName(q)} ≈ ${formatNumber(histogramQuantile(q, hist, custom))}`))
    : null;
  return h('div', { class: 'hist' },
    h('div', { class: 'hist-summary' },
      h('span', { class: 'hist-count' }, `count ${formatNumber(hist.count, 6)}`),
      h('span', { class: 'hist-sum' }, ` · sum ${formatNumber(hist.sum, 6)}`),
      quantiles,
      suffix ? ` ${suffix}` : null),
    hist.buckets.length ? bars(hist) : h('div', { class: 'hist-empty' }, 'no observations in any bucket'),
    hist.buckets.length ? bucketList(hist) : null);
}

/** A bar per bucket and a gap per empty one (equal widths: exponential buckets read as a log scale). */
function bars(hist) {
  const max = maxCount(hist);
  return h('div', { class: 'hist-bars', role: 'img', 'aria-label': `${hist.buckets.length} buckets` },
    bucketSlots(hist.buckets).map((b) => (b === null
      ? h('span', { class: 'hist-gap', title: 'empty buckets' })
      : h('span', {
        class: 'hist-bar',
        title: `${bucketRange(b)}: ${formatNumber(b.count, 6)}`,
        style: `height: ${barPercent(b.count, max)}%`,
      }))));
}

/** The buckets as a table behind a disclosure (built when first opened). */
function bucketList(hist) {
  const details = h('details', { class: 'hist-buckets' },
    h('summary', {}, `${hist.buckets.length} bucket${hist.buckets.length === 1 ? '' : 's'}`));
  details.addEventListener('toggle', () => {
    if (details.open && details.childElementCount === 1) details.append(bucketTable(hist));
  });
  return details;
}

/** Range, count, cumulative share and a bar for each bucket. */
function bucketTable(hist) {
  const max = maxCount(hist);
  const total = hist.buckets.reduce((n, b) => n + Math.max(0, b.count), 0);
  let running = 0;
  const rows = hist.buckets.map((b) => {
    running += Math.max(0, b.count);
    return h('tr', {},
      h('td', { class: 'bucket-range', title: `${b.lower} … ${b.upper}` }, bucketRange(b)),
      h('td', { class: 'bucket-count' }, formatNumber(b.count, 6)),
      h('td', { class: 'bucket-share' }, total > 0 ? `${formatNumber((100 * running) / total, 4)}%` : ''),
      h('td', { class: 'bucket-bar-cell' }, h('span', { class: 'bucket-bar', style: `width: ${barPercent(b.count, max)}%` })));
  });
  return h('table', { class: 'buckets' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Bucket'), h('th', {}, 'Count'), h('th', { title: 'observations in this bucket and the ones below it' }, 'Cumulative'), h('th', {}, ''))),
    h('tbody', {}, rows));
}

function maxCount(hist) {
  let max = 0;
  for (const b of hist.buckets) max = Math.max(max, b.count);
  return max;
}

function barPercent(count, max) {
  return max > 0 ? Math.max(0, Math.min(100, (100 * count) / max)) : 0;
}
