// The graph: uPlot over the columns of series.js, with a legend that names each series.
// Quantile lines of histogram series (series.js quantileSeries) share their series'
// colour, dashed by quantile, and are never stacked.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

import { seriesKey, seriesName, toColumns } from './series.js';

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Dash patterns of quantile lines, by their rank among the quantiles drawn. */
export const QUANTILE_DASH = [undefined, [6, 3], [2, 3]];

/** The legend label of a series. */
const label = (s) => s.label ?? seriesName(s.metric);

/**
 * A uPlot chart inside `el`, redrawn by `update(series, stacked, [minSec, maxSec])`;
 * charts of the same `syncKey` share the cursor.
 */
export class Chart {
  constructor(el, syncKey = null) {
    this.el = el;
    this.syncKey = syncKey;
    this.plot = null;
    this.keys = '';
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: 320 });
    });
    this.resize.observe(el);
  }

  width() {
    return Math.max(300, this.el.clientWidth || 800);
  }

  update(series, stacked, xRange) {
    const data = toColumns(series, stacked);
    // Read by the x scale on every redraw, so a live graph's window follows the clock.
    this.xRange = xRange ?? null;
    const keys = `${stacked}|${series.map(label).join('\n')}`;
    // Same series: new data only (keeps zoom and legend state).
    if (this.plot && keys === this.keys) {
      this.plot.setData(data);
      this.publish(series);
      return;
    }
    this.destroy();
    this.keys = keys;
    const styles = seriesStyles(series);
    const opts = {
      width: this.width(),
      height: 320,
      scales: { x: { time: true, range: (u, min, max) => this.xRange ?? [min, max] } },
      legend: { live: true },
      cursor: cursorOpts(this.syncKey),
      series: [
        {},
        ...series.map((s, i) => ({
          label: label(s),
          stroke: styles[i].color,
          dash: styles[i].dash,
          fill: stacked && s.quantile === undefined ? `${styles[i].color}55` : undefined,
          width: 1.5,
          spanGaps: false,
        })),
      ],
      axes: [{}, { size: 70 }],
    };
    if (stacked) {
      // Fill each band down to the stacked series below it.
      const stackedIdx = series.map((s, i) => (s.quantile === undefined ? i + 1 : null)).filter((i) => i !== null);
      opts.bands = stackedIdx.slice(1).map((idx, k) => ({ series: [idx, stackedIdx[k]] }));
    }
    this.plot = new uPlot(opts, data, this.el);
    // The drawn chart, for tests and debugging from the console.
    this.el.uplot = this.plot;
    this.publish(series);
  }

  /** Exposes what was drawn (series and points) for tests and screen readers. */
  publish(series) {
    const drawn = this.plot ? this.plot.series.length - 1 : 0;
    this.el.dataset.seriesCount = String(drawn);
    this.el.dataset.pointCount = String(series.reduce((n, s) => n + s.points.size, 0));
    const last = series.map((s) => {
      const ts = [...s.points.keys()].sort((a, b) => a - b);
      return ts.length ? s.points.get(ts[ts.length - 1]) : null;
    });
    this.el.dataset.lastValues = JSON.stringify(last);
    const newest = series.reduce((m, s) => Math.max(m, ...s.points.keys()), -Infinity);
    this.el.dataset.lastTime = Number.isFinite(newest) ? String(newest) : '';
    this.el.setAttribute('aria-label', `graph of ${drawn} series`);
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.keys = '';
  }

  dispose() {
    this.destroy();
    this.resize.disconnect();
  }
}

/**
 * Colour and dash of each series: one palette colour per label set, so that the quantile
 * lines of a histogram series share it and differ by dash.
 */
function seriesStyles(series) {
  const colors = new Map();
  const quantiles = [...new Set(series.filter((s) => s.quantile !== undefined).map((s) => s.quantile))].sort((a, b) => a - b);
  return series.map((s) => {
    const key = s.quantile === undefined ? `f${colors.size}` : `q${seriesKey(s.metric)}`;
    if (!colors.has(key)) colors.set(key, PALETTE[colors.size % PALETTE.length]);
    const dash = s.quantile === undefined ? undefined : QUANTILE_DASH[quantiles.indexOf(s.quantile) % QUANTILE_DASH.length];
    return { color: colors.get(key), dash };
  });
}

/** uPlot cursor options: drag to zoom in time, the cursor shared by charts of `syncKey`. */
export function cursorOpts(syncKey) {
  const cursor = { drag: { x: true, y: false } };
  if (syncKey) cursor.sync = { key: syncKey, scales: ['x', null] };
  return cursor;
}
