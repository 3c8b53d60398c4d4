// The graph: uPlot over the columns of series.js, with a legend that names each series.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

import { seriesName, toColumns } from './series.js';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** A uPlot chart inside `el`, redrawn by `update(series, stacked, [minSec, maxSec])`. */
export class Chart {
  constructor(el) {
    this.el = el;
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
    const keys = `${stacked}|${series.map((s) => seriesName(s.metric)).join('\n')}`;
    // Same series: new data only (keeps zoom and legend state).
    if (this.plot && keys === this.keys) {
      this.plot.setData(data);
      this.publish(series);
      return;
    }
    this.destroy();
    this.keys = keys;
    const opts = {
      width: this.width(),
      height: 320,
      scales: { x: { time: true, range: (u, min, max) => this.xRange ?? [min, max] } },
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      series: [
        {},
        ...series.map((s, i) => ({
          label: seriesName(s.metric),
          stroke: PALETTE[i % PALETTE.length],
          fill: stacked ? `${PALETTE[i % PALETTE.length]}55` : undefined,
          width: 1.5,
          spanGaps: false,
        })),
      ],
      axes: [{}, { size: 70 }],
    };
    if (stacked && series.length > 1) {
      // Fill each band down to the series below it.
      opts.bands = series.slice(1).map((_, i) => ({ series: [i + 2, i + 1] }));
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
