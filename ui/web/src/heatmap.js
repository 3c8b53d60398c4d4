// The heatmap of a histogram series over time, as pure data: one cell per sample and
// bucket (time on x, the bucket's bounds on y, its count as colour), the y scale that
// suits the buckets, and the colour ramp.

import { CLOSED, usesCustomBuckets } from './histogram.js';

/**
 * The heatmap of `samples` (`[[tSec, histogram], ...]`, histograms as histogram.js parses
 * them), each sample drawn `stepSec` wide centred on its time (`stepSec` null: the
 * smallest gap between samples, or 1 s for a single sample).
 *
 * Returns `{cells, maxCount, scale, yMin, yMax, linthresh}`: `cells`
 * `[{t, t0, t1, y0, y1, bucket}]` with `y0`/`y1` the drawn bounds; `scale` `log`
 * (exponential or wide custom buckets, nothing below zero), `asinh` (exponential buckets
 * on both sides of zero; linear within ±`linthresh`, the bound nearest zero but the zero
 * bucket's) or `linear` (narrow custom buckets or bounds below zero).
 *
 * Infinite bounds of custom buckets are drawn one bucket's width (on the chosen scale)
 * beyond the finite one. On a log scale, buckets reaching zero or below (the zero bucket,
 * a custom (-Inf, u] bucket) are drawn as a band at the bottom, from half the lowest
 * positive bound up to that bound.
 */
export function heatmapCells(samples, stepSec = null) {
  const step = stepSec ?? smallestGap(samples.map(([t]) => t));
  const hists = samples.map(([, h]) => h);
  const custom = hists.some((h) => usesCustomBuckets(h.buckets));
  let negative = false;
  let lowestLower = Infinity;
  let lowestUpper = Infinity;
  let nearestZero = Infinity;
  let hi = -Infinity;
  for (const h of hists) {
    for (const b of h.buckets) {
      if (b.upper < 0 || (b.lower < 0 && b.upper <= 0)) negative = true;
      if (b.lower > 0) lowestLower = Math.min(lowestLower, b.lower);
      if (b.upper > 0 && Number.isFinite(b.upper)) lowestUpper = Math.min(lowestUpper, b.upper);
      for (const v of [b.lower, b.upper]) if (Number.isFinite(v)) hi = Math.max(hi, v);
      if (b.rule !== CLOSED) for (const v of [b.lower, b.upper]) if (v !== 0) nearestZero = Math.min(nearestZero, Math.abs(v));
    }
  }
  // The lowest bound above zero but a zero bucket's (which is tiny, and drawn as a band).
  const lowestPositive = Number.isFinite(lowestLower) ? lowestLower : lowestUpper;

  let scale = 'linear';
  if (!negative && Number.isFinite(lowestPositive) && (!custom || hi / lowestPositive >= 100)) scale = 'log';
  else if (!custom && Number.isFinite(hi)) scale = 'asinh';

  const floor = lowestPositive / 2;
  const cells = [];
  let maxCount = 0;
  for (const [t, h] of samples) {
    h.buckets.forEach((b, i) => {
      if (!(b.count > 0)) return;
      let [y0, y1] = drawnBounds(h.buckets, i, scale);
      if (scale === 'log' && y0 <= 0) {
        y0 = floor;
        y1 = Math.max(y1, lowestPositive);
      }
      cells.push({ t, t0: t - step / 2, t1: t + step / 2, y0, y1, bucket: b });
      maxCount = Math.max(maxCount, b.count);
    });
  }
  let [yMin, yMax] = [Infinity, -Infinity];
  for (const c of cells) {
    yMin = Math.min(yMin, c.y0);
    yMax = Math.max(yMax, c.y1);
  }
  if (!cells.length) [yMin, yMax] = scale === 'log' ? [1, 10] : [0, 1];
  return { cells, maxCount, scale, yMin, yMax, linthresh: Number.isFinite(nearestZero) ? nearestZero : 1 };
}

/** The bounds bucket `i` is drawn with: infinite ones replaced by a bucket's width. */
function drawnBounds(buckets, i, scale) {
  const b = buckets[i];
  let { lower, upper } = b;
  if (upper === Infinity) {
    if (scale === 'log' && lower > 0) upper = lower * 2;
    else upper = lower + neighbourWidth(buckets, i - 1, Math.abs(lower) || 1);
  }
  if (lower === -Infinity) {
    if (scale === 'log' && upper > 0) lower = 0;
    else lower = upper - neighbourWidth(buckets, i + 1, Math.abs(upper) || 1);
  }
  return [lower, upper];
}

function neighbourWidth(buckets, j, fallback) {
  const n = buckets[j];
  const w = n ? n.upper - n.lower : NaN;
  return Number.isFinite(w) && w > 0 ? w : fallback;
}

function smallestGap(ts) {
  const sorted = [...ts].sort((a, b) => a - b);
  let gap = Infinity;
  for (let i = 1; i < sorted.length; i++) if (sorted[i] > sorted[i - 1]) gap = Math.min(gap, sorted[i] - sorted[i - 1]);
  return Number.isFinite(gap) ? gap : 1;
}

/** The cell drawn at time `t` and value `y` (the narrowest one holding them), or null. */
export function cellAt(cells, t, y) {
  let best = null;
  for (const c of cells) {
    if (t < c.t0 || t > c.t1 || y < c.y0 || y > c.y1) continue;
    if (!best || c.y1 - c.y0 < best.y1 - best.y0) best = c;
  }
  return best;
}

/** Colour stops from few observations (pale yellow) to many (deep purple). */
const RAMP = [
  [255, 255, 204],
  [254, 217, 118],
  [253, 141, 60],
  [227, 26, 28],
  [128, 0, 38],
  [63, 0, 125],
];

/**
 * The colour of a cell of `count` in a heatmap whose largest count is `max`: the ramp
 * over the square root of count / max, so that small buckets stay visible.
 */
export function cellColor(count, max) {
  const f = max > 0 ? Math.sqrt(Math.min(1, Math.max(0, count / max))) : 0;
  const x = f * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const w = x - i;
  const [r, g, b] = RAMP[i].map((c, k) => Math.round(c + (RAMP[i + 1][k] - c) * w));
  return `rgb(${r}, ${g}, ${b})`;
}
