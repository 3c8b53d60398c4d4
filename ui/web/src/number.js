// Sample values: Prometheus's number strings to numbers, and numbers to short text.

/** Prometheus sample value strings to numbers (NaN, +Inf, -Inf included). */
export function parseValue(v) {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return parseFloat(v);
}

/**
 * `v` in at most `digits` significant digits, without trailing zeros: `0.00123`, `1.5e+9`,
 * `+Inf`. Plain notation between 1e-4 and 1e9, exponent notation outside.
 */
export function formatNumber(v, digits = 4) {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e-4 && abs < 1e9) {
    // toPrecision gives exponent notation for large integers' excess digits; Number() folds it back.
    return String(Number(v.toPrecision(digits)));
  }
  const [mantissa, exp] = v.toExponential(digits - 1).split('e');
  return `${String(Number(mantissa))}e${exp}`;
}
