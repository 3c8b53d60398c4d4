// Prometheus's shareable graph URLs: /graph?g0.expr=...&g0.range_input=1h&g0.tab=0 ...

import { formatUtc, parseDuration, parseUtc } from './duration.js';

/** One panel of the expression browser. */
export function defaultPanel() {
  return { expr: '', tab: 0, rangeMs: 3_600_000, endMs: null, stepMs: null, stacked: false, live: false, histView: 'heatmap' };
}

/** The panels described by a query string (at least one). */
export function parsePanels(search) {
  const params = new URLSearchParams(search);
  const byIndex = new Map();
  for (const [key, value] of params) {
    const m = /^g(\d+)\.(\w+)$/.exec(key);
    if (!m) continue;
    const i = parseInt(m[1], 10);
    if (!byIndex.has(i)) byIndex.set(i, defaultPanel());
    const p = byIndex.get(i);
    switch (m[2]) {
      case 'expr': p.expr = value; break;
      case 'tab': p.tab = value === '1' || value === 'table' ? 1 : 0; break;
      case 'range_input': p.rangeMs = parseDuration(value) ?? p.rangeMs; break;
      case 'end_input': p.endMs = parseUtc(value); break;
      case 'moment_input': if (p.endMs === null) p.endMs = parseUtc(value); break;
      case 'step_input': p.stepMs = parseDuration(value); break;
      case 'stacked': p.stacked = value === '1'; break;
      case 'live': p.live = value === '1'; break;
      case 'hist_view': p.histView = value === 'quantiles' ? 'quantiles' : 'heatmap'; break;
      default: break;
    }
  }
  const panels = [...byIndex.keys()].sort((a, b) => a - b).map((i) => byIndex.get(i));
  return panels.length ? panels : [defaultPanel()];
}

/** The query string for `panels` (without the leading "?"). */
export function formatPanels(panels) {
  const params = new URLSearchParams();
  panels.forEach((p, i) => {
    const g = `g${i}.`;
    params.set(`${g}expr`, p.expr);
    params.set(`${g}tab`, String(p.tab));
    params.set(`${g}stacked`, p.stacked ? '1' : '0');
    params.set(`${g}range_input`, formatDurationShort(p.rangeMs));
    if (p.endMs !== null) params.set(`${g}end_input`, formatUtc(p.endMs));
    if (p.stepMs !== null) params.set(`${g}step_input`, String(p.stepMs / 1000));
    if (p.live) params.set(`${g}live`, '1');
    if (p.histView === 'quantiles') params.set(`${g}hist_view`, 'quantiles');
  });
  return params.toString();
}

function formatDurationShort(ms) {
  for (const [unit, size] of [['w', 604_800_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]]) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}
