// Prometheus-style durations ("1h", "30m", "1d2h", "90s") and time formatting.

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** Milliseconds of a duration like "1h30m" or a plain number of seconds; null if invalid. */
export function parseDuration(text) {
  const s = String(text ?? '').trim();
  if (s === '') return null;
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(parseFloat(s) * 1000);
  const re = /(\d+)(ms|[smhdwy])/g;
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    if (m.index !== consumed) return null;
    total += parseInt(m[1], 10) * UNITS[m[2]];
    consumed += m[0].length;
  }
  return consumed === s.length && total > 0 ? total : null;
}

/** The shortest duration string for `ms` ("1h", "1h30m", "250ms"). */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['y', UNITS.y], ['w', UNITS.w], ['d', UNITS.d], ['h', UNITS.h], ['m', UNITS.m], ['s', UNITS.s], ['ms', 1]]) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return out;
}

/** Range steps of the picker, as Prometheus offers them. */
export const RANGE_STEPS = ['1m', '5m', '15m', '30m', '1h', '2h', '6h', '12h', '1d', '2d', '1w', '2w', '4w', '8w', '26w', '1y'];

/** The next shorter (dir = -1) or longer (dir = 1) range of the picker. */
export function stepRange(ms, dir) {
  const all = RANGE_STEPS.map(parseDuration);
  if (dir > 0) return all.find((r) => r > ms) ?? all[all.length - 1];
  return [...all].reverse().find((r) => r < ms) ?? all[0];
}

/** A default resolution: about 250 points over the range, at least 1 s. */
export function defaultStepMs(rangeMs) {
  return Math.max(1000, Math.round(rangeMs / 250 / 1000) * 1000);
}

/** "YYYY-MM-DD HH:MM:SS" in UTC (Prometheus's end_input format). */
export function formatUtc(ms) {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Inverse of formatUtc (also accepts ISO strings); null if invalid. */
export function parseUtc(text) {
  const s = String(text ?? '').trim();
  if (s === '') return null;
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$/.test(s) ? `${s.replace(' ', 'T')}Z` : s;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** "3.2s ago", "5m ago" for a past timestamp relative to `now`. */
export function ago(ms, now = Date.now()) {
  if (!Number.isFinite(ms) || ms <= 0) return 'never';
  const d = Math.max(0, now - ms);
  if (d < 1000) return `${d}ms ago`;
  if (d < 60_000) return `${(d / 1000).toFixed(1)}s ago`;
  // The two largest units are enough to read ("46w3d ago", "1h26m ago").
  const parts = formatDuration(Math.round(d / 1000) * 1000).match(/\d+(ms|[a-z])/g) ?? [];
  return `${parts.slice(0, 2).join('')} ago`;
}
