// What to complete at the cursor of a PromQL expression, and the ranked suggestions.

export const FUNCTIONS = [
  'abs', 'absent', 'absent_over_time', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max',
  'clamp_min', 'count_over_time', 'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month',
  'delta', 'deriv', 'exp', 'floor', 'histogram_quantile', 'holt_winters', 'hour', 'idelta',
  'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log10', 'log2',
  'max_over_time', 'min_over_time', 'minute', 'month', 'predict_linear', 'present_over_time',
  'quantile_over_time', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sort', 'sort_desc', 'sqrt',
  'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'time', 'timestamp', 'vector', 'year',
];
export const AGGREGATIONS = [
  'avg', 'bottomk', 'count', 'count_values', 'group', 'max', 'min', 'quantile', 'stddev', 'stdvar',
  'sum', 'topk',
];
export const KEYWORDS = ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless'];

/**
 * The completion context at `cursor` in `text`:
 *  - {kind: 'metric', prefix}                       an identifier outside braces
 *  - {kind: 'label', prefix, metric}                a label name inside {...} or by (...)
 *  - {kind: 'value', prefix, label, metric, quote}  a label value after label=, !=, =~, !~
 *  - null                                           nothing to complete
 * `metric` is the metric name before the braces, when there is one.
 */
export function completionContext(text, cursor = text.length) {
  const before = text.slice(0, cursor);
  // Inside a string: a label value if the string follows a matcher.
  const str = openString(before);
  if (str) {
    const m = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*$/.exec(before.slice(0, str.start));
    const brace = openBrace(before.slice(0, str.start));
    if (!m || brace < 0) return null;
    return { kind: 'value', prefix: before.slice(str.start + 1), label: m[1], metric: metricBefore(before, brace), quote: str.quote };
  }
  const brace = openBrace(before);
  const ident = /[a-zA-Z_:][a-zA-Z0-9_:]*$/.exec(before);
  const prefix = ident ? ident[0] : '';
  if (brace >= 0) {
    const inside = before.slice(brace + 1, before.length - prefix.length);
    // Only at a label-name position: after "{" or ",".
    if (/(^|,)\s*$/.test(inside)) return { kind: 'label', prefix, metric: metricBefore(before, brace) };
    return null;
  }
  const paren = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)$/.exec(before);
  if (paren && /(^|,)\s*[a-zA-Z0-9_]*$/.test(paren[2])) return { kind: 'label', prefix, metric: null };
  if (/\[[^\]]*$/.test(before)) return null; // inside a range [5m
  if (!ident) return null;
  if (/[0-9.]$/.test(before.slice(0, before.length - prefix.length)) && /^\d/.test(prefix)) return null;
  return { kind: 'metric', prefix };
}

function openString(s) {
  let quote = null;
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === '`') {
      quote = c;
      start = i;
    }
  }
  return quote ? { quote, start } : null;
}

/** Index of the unclosed "{" (outside strings) in `s`, or -1. */
function openBrace(s) {
  let quote = null;
  let open = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '{') open = i;
    else if (c === '}') open = -1;
  }
  return open;
}

function metricBefore(s, brace) {
  const m = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*$/.exec(s.slice(0, brace));
  return m ? m[1] : null;
}

/**
 * Suggestions for `prefix` among `candidates` ({label, kind} objects): prefix matches first,
 * then substring matches, then fuzzy (in-order characters); at most `limit`.
 */
export function rank(prefix, candidates, limit = 50) {
  const p = prefix.toLowerCase();
  const scored = [];
  for (const c of candidates) {
    const l = c.label.toLowerCase();
    let score;
    if (p === '') score = 0;
    else if (l.startsWith(p)) score = 0;
    else if (l.includes(p)) score = 1;
    else if (fuzzy(p, l)) score = 2;
    else continue;
    if (l === p) continue; // already typed in full
    scored.push([score, c]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].label.localeCompare(b[1].label));
  return scored.slice(0, limit).map((x) => x[1]);
}

function fuzzy(p, l) {
  let j = 0;
  for (let i = 0; i < l.length && j < p.length; i++) if (l[i] === p[j]) j++;
  return j === p.length;
}

/** `text` with the word before `cursor` (`prefix`) replaced by `insert`; returns [text, cursor]. */
export function applyCompletion(text, cursor, prefix, insert) {
  const start = cursor - prefix.length;
  const out = text.slice(0, start) + insert + text.slice(cursor);
  return [out, start + insert.length];
}

/** A label value written inside `quote`s. */
export function escapeValue(v, quote = '"') {
  if (quote === '`') return v;
  return v.replace(/\\/g, '\\\\').replace(new RegExp(quote, 'g'), `\\${quote}`);
}
