// Native histogram samples as the Prometheus HTTP API returns them:
//   {"count": "12", "sum": "34.5", "buckets": [[boundary_rule, "lower", "upper", "count"], ...]}
// with boundary_rule 0: (lower, upper], 1: [lower, upper), 2: (lower, upper), 3: [lower, upper]
// and buckets of count 0 left out. Parsing, bucket ranges as text, the kind of bucket layout
// and quantiles with Prometheus's interpolation.

import { formatNumber, parseValue } from './number.js';

/** Boundary rules of the API's buckets. */
export const LEFT_OPEN = 0;
export const RIGHT_OPEN = 1;
export const OPEN = 2;
export const CLOSED = 3;

/**
 * `{count, sum, buckets: [{rule, lower, upper, count}]}` (numbers, buckets from the lowest)
 * from the API's JSON; `null` when `json` is not a histogram. Malformed buckets are
 * dropped.
 */
export function parseHistogram(json) {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return null;
  const count = parseValue(json.count);
  const sum = parseValue(json.sum);
  const buckets = [];
  for (const b of Array.isArray(json.buckets) ? json.buckets : []) {
    if (!Array.isArray(b) || b.length < 4) continue;
    const rule = Number(b[0]);
    const lower = parseValue(b[1]);
    const upper = parseValue(b[2]);
    const n = parseValue(b[3]);
    if (![LEFT_OPEN, RIGHT_OPEN, OPEN, CLOSED].includes(rule)) continue;
    if (Number.isNaN(lower) || Number.isNaN(upper) || lower > upper || Number.isNaN(n)) continue;
    buckets.push({ rule, lower, upper, count: n });
  }
  buckets.sort((a, b) => a.lower - b.lower || a.upper - b.upper);
  return { count, sum, buckets };
}

/** The bucket's range in interval notation, `(0.5, 1]`, precise enough to tell neighbours apart. */
export function bucketRange(b) {
  const open = b.rule === RIGHT_OPEN || b.rule === CLOSED ? '[' : '(';
  const close = b.rule === LEFT_OPEN || b.rule === CLOSED ? ']' : ')';
  const scale = Math.max(Math.abs(b.lower), Math.abs(b.upper));
  const width = b.upper - b.lower;
  let digits = 4;
  if (Number.isFinite(width) && width > 0 && Number.isFinite(scale)) {
    digits = Math.min(17, Math.max(3, Math.ceil(-Math.log10(width / scale)) + 2));
  }
  return `${open}${formatNumber(b.lower, digits)}, ${formatNumber(b.upper, digits)}${close}`;
}

/** Largest schema of exponential buckets (their width is log2(upper/lower) = 2^-schema). */
const MAX_SCHEMA = 8;
const MIN_SCHEMA = -4;

/**
 * Whether the buckets are custom (a histogram with `custom_values`, e.g. one converted
 * from a classic histogram) rather than exponential. The API does not say, so it is read
 * from the bounds: custom buckets reach ±Inf and are all `(lower, upper]`; exponential
 * buckets are `(a, b]` above zero, `[a, b)` below, `[-z, z]` around zero, and every bucket
 * above zero (the lowest may start at the zero threshold) spans the same power of two,
 * 2^(2^-schema), on the grid of that schema. Custom bounds that happen to lie on such a
 * grid (1, 2, 4, 8, …) read as exponential.
 */
export function usesCustomBuckets(buckets) {
  const positive = [];
  for (const b of buckets) {
    if (!Number.isFinite(b.lower) || !Number.isFinite(b.upper)) return true;
    if (b.rule === RIGHT_OPEN || b.rule === CLOSED) return false;
    if (b.rule !== LEFT_OPEN || b.lower <= 0) return true;
    positive.push(b);
  }
  if (positive.length === 0) return false;
  const near = (a, b) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  const onGrid = (v, width) => {
    const k = Math.log2(v) / width;
    return Math.abs(k - Math.round(k)) <= 1e-6 * Math.max(1, Math.abs(k));
  };
  let width = 2 ** -MAX_SCHEMA;
  if (positive.length > 1) {
    width = Math.log2(positive[1].upper / positive[1].lower);
    const schema = -Math.log2(width);
    if (!near(schema, Math.round(schema)) || schema < MIN_SCHEMA - 1e-9 || schema > MAX_SCHEMA + 1e-9) return true;
    if (!positive.slice(2).every((b) => near(Math.log2(b.upper / b.lower), width))) return true;
    // The lowest bucket is one bucket wide, or narrower when it starts at the zero threshold.
    if (Math.log2(positive[0].upper / positive[0].lower) > width * (1 + 1e-9)) return true;
    if (!positive.slice(1).every((b) => onGrid(b.lower, width))) return true;
  }
  return !positive.every((b) => onGrid(b.upper, width));
}

/**
 * The q-quantile of histogram `h` (as `parseHistogram` returns it), the way Prometheus
 * 3.5's `histogram_quantile` computes it for native histograms: the bucket holding the
 * rank is found from the low end for q < 0.5 (or when the sum is NaN) and from the high
 * end otherwise; within it the value is interpolated linearly for custom buckets and the
 * zero bucket, log-linearly for exponential buckets. A zero bucket of a histogram with
 * buckets on one side only is taken to end at 0; a custom layout's lowest bucket
 * (-Inf, u] starts at 0 when u > 0 (else u is the answer) and its highest bucket
 * (l, +Inf] answers l.
 *
 * Whether the histogram has positive or negative buckets is read from the buckets with
 * a count (the API leaves out the empty ones).
 */
export function histogramQuantile(q, h, custom = usesCustomBuckets(h.buckets)) {
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  if (h.count === 0 || Number.isNaN(q)) return NaN;

  const forward = Number.isNaN(h.sum) || q < 0.5;
  const order = forward ? h.buckets : [...h.buckets].reverse();
  let rank = forward ? q * h.count : (1 - q) * h.count;
  let bucket = { lower: 0, upper: 0, count: 0 };
  let count = 0;
  for (const b of order) {
    bucket = b;
    if (b.count === 0) continue;
    count += b.count;
    if (count >= rank) break;
  }
  let { lower, upper } = bucket;
  if (!custom && lower < 0 && upper > 0) {
    const positive = h.buckets.some((b) => b.rule === LEFT_OPEN);
    const negative = h.buckets.some((b) => b.rule === RIGHT_OPEN);
    if (positive && !negative) lower = 0;
    else if (negative && !positive) upper = 0;
  } else if (custom) {
    if (lower === -Infinity) {
      if (upper <= 0) return upper;
      lower = 0;
    } else if (upper === Infinity) {
      return lower;
    }
  }
  // Rounding could make the running count exceed the total.
  if (count > h.count) count = h.count;
  // The rank was not reached (NaN observations count but sit in no bucket).
  if (count < rank) return upper;

  if (forward) rank -= count - bucket.count;
  else rank = count - rank;
  const fraction = rank / bucket.count;

  if (custom || (lower <= 0 && upper >= 0)) return lower + (upper - lower) * fraction;
  const logLower = Math.log2(Math.abs(lower));
  const logUpper = Math.log2(Math.abs(upper));
  if (lower > 0) return 2 ** (logLower + (logUpper - logLower) * fraction);
  return -(2 ** (logUpper + (logLower - logUpper) * (1 - fraction)));
}

/** The quantiles the graph and the table show. */
export const QUANTILES = [0.5, 0.9, 0.99];

/** `p50`, `p90`, `p99`, `p99.9` for a quantile. */
export function quantileName(q) {
  return `p${String(Number((q * 100).toPrecision(6)))}`;
}

/**
 * The buckets in order with `null` slots where buckets of count 0 were left out: as many
 * as are missing between two exponential buckets on the same side of zero (at most
 * `maxGap`), one elsewhere (custom buckets, next to the zero bucket). Bar charts drawn
 * from the slots keep exponential buckets on a log scale.
 */
export function bucketSlots(buckets, maxGap = 8) {
  const custom = usesCustomBuckets(buckets);
  const logWidth = (b) => Math.abs(Math.log2(Math.abs(b.upper) / Math.abs(b.lower)));
  const slots = [];
  buckets.forEach((b, i) => {
    const a = buckets[i - 1];
    if (a && b.lower > a.upper) {
      let missing = 1;
      const sameSide = (a.lower > 0 && b.lower > 0) || (a.upper < 0 && b.upper < 0);
      if (!custom && sameSide && a.rule !== CLOSED && b.rule !== CLOSED) {
        const width = Math.max(logWidth(a), logWidth(b));
        missing = Math.round(Math.abs(Math.log2(Math.abs(b.lower) / Math.abs(a.upper))) / width);
      }
      for (let k = 0; k < Math.min(maxGap, Math.max(1, missing)); k++) slots.push(null);
    }
    slots.push(b);
  });
  return slots;
}
