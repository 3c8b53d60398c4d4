// Heatmaps of histogram series: one uPlot chart per series, the buckets' counts painted
// as cells under its p50/p90/p99 lines, and a readout of the bucket under the cursor.

import uPlot from 'uplot';

import { cursorOpts, QUANTILE_DASH } from './chart.js';
import { h, note, replace } from './dom.js';
import { formatUtc } from './duration.js';
import { cellAt, cellColor, heatmapCells } from './heatmap.js';
import { bucketRange, QUANTILES, quantileName } from './histogram.js';
import { formatNumber } from './number.js';
import { quantileSeries, seriesKey, seriesName } from './series.js';

/** At most this many heatmaps per panel (quantile lines show any number of series). */
export const MAX_HEATMAPS = 12;
const HEIGHT = 240;
const LINE = '#00a5cf';

/** The heatmaps of the histogram series of a panel, inside `el`. */
export class HeatmapSet {
  constructor(el, syncKey) {
    this.el = el;
    this.syncKey = syncKey;
    this.maps = new Map();
    this.note = h('div');
  }

  /** Draws the series with histogram samples (others are ignored). */
  update(series, xRange, stepSec) {
    const all = series.filter((s) => s.histograms.size);
    const shown = all.slice(0, MAX_HEATMAPS);
    const keys = new Set(shown.map((s) => seriesKey(s.metric)));
    for (const [key, map] of this.maps) {
      if (!keys.has(key)) {
        map.dispose();
        this.maps.delete(key);
      }
    }
    for (const s of shown) {
      const key = seriesKey(s.metric);
      if (!this.maps.has(key)) this.maps.set(key, new Heatmap(s.metric, this.syncKey));
    }
    replace(this.note, all.length > shown.length
      ? note('warn', `Heatmaps of the first ${shown.length} of ${all.length} histogram series; aggregate them or show quantile lines to see all.`)
      : null);
    replace(this.el, this.note, shown.map((s) => this.maps.get(seriesKey(s.metric)).el));
    for (const s of shown) this.maps.get(seriesKey(s.metric)).update(s, xRange, stepSec);
  }

  /** Removes every heatmap. */
  clear() {
    for (const map of this.maps.values()) map.dispose();
    this.maps.clear();
    replace(this.el);
  }
}

/** The heatmap of one histogram series. */
class Heatmap {
  constructor(metric, syncKey) {
    this.syncKey = syncKey;
    this.plot = null;
    this.scale = null;
    this.hm = null;
    this.xRange = null;
    this.plotEl = h('div', { class: 'heatmap-plot' });
    this.readout = h('div', { class: 'heatmap-readout' }, 'Point at a cell to see its bucket and count.');
    this.el = h('figure', { class: 'heatmap', 'aria-label': `heatmap of ${seriesName(metric)}` },
      h('figcaption', { class: 'heatmap-title' }, seriesName(metric)),
      this.plotEl,
      this.readout);
    this.resize = new ResizeObserver(() => {
      if (this.plot) this.plot.setSize({ width: this.width(), height: HEIGHT });
    });
    this.resize.observe(this.el);
  }

  width() {
    return Math.max(300, this.el.clientWidth || 800);
  }

  update(series, xRange, stepSec) {
    const samples = [...series.histograms].sort((a, b) => a[0] - b[0]);
    this.hm = heatmapCells(samples, stepSec);
    this.xRange = xRange ?? null;
    const xs = samples.map(([t]) => t);
    const lines = quantileSeries([series], QUANTILES);
    const data = [xs, ...lines.map((l) => xs.map((t) => {
      const v = l.points.get(t);
      return Number.isFinite(v) && (this.hm.scale !== 'log' || v > 0) ? v : null;
    }))];
    // What was drawn, for tests and screen readers.
    Object.assign(this.el.dataset, { sampleCount: String(samples.length), cellCount: String(this.hm.cells.length), scale: this.hm.scale });
    const scale = `${this.hm.scale}|${this.hm.linthresh}`;
    if (this.plot && this.scale === scale) {
      this.plot.setData(data);
      return;
    }
    this.destroy();
    this.scale = scale;
    this.plot = new uPlot(this.options(lines), data, this.plotEl);
    this.plotEl.uplot = this.plot;
  }

  options(lines) {
    const distr = { log: 3, asinh: 4, linear: 1 }[this.hm.scale];
    return {
      width: this.width(),
      height: HEIGHT,
      scales: {
        x: { time: true, range: (u, min, max) => this.xRange ?? [min, max] },
        y: { distr, log: 10, asinh: this.hm.linthresh, range: () => [this.hm.yMin, this.hm.yMax] },
      },
      legend: { live: true },
      cursor: cursorOpts(this.syncKey),
      series: [
        {},
        ...lines.map((l, i) => ({ label: quantileName(l.quantile), stroke: LINE, dash: QUANTILE_DASH[i], width: 2, spanGaps: false })),
      ],
      axes: [{}, { size: 70 }],
      hooks: {
        drawClear: [(u) => this.paint(u)],
        setCursor: [(u) => this.point(u)],
      },
    };
  }

  /** Paints the cells under the axes' grid and the lines. */
  paint(u) {
    const { ctx, bbox } = u;
    const { cells, maxCount } = this.hm;
    ctx.save();
    ctx.beginPath();
    ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
    ctx.clip();
    for (const c of cells) {
      // Whole pixels, so that neighbouring cells leave no seams.
      const x0 = Math.round(u.valToPos(c.t0, 'x', true));
      const x1 = Math.round(u.valToPos(c.t1, 'x', true));
      const top = Math.round(u.valToPos(c.y1, 'y', true));
      const bottom = Math.round(u.valToPos(c.y0, 'y', true));
      ctx.fillStyle = cellColor(c.bucket.count, maxCount);
      // At least a pixel high and wide, so thin buckets (a zero bucket) stay visible.
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), Math.max(1, bottom - top));
    }
    ctx.restore();
  }

  /** Shows the bucket under the cursor. */
  point(u) {
    const { left, top } = u.cursor;
    if (left === undefined || left < 0 || top === undefined || top < 0) return;
    const t = u.posToVal(left, 'x');
    const y = u.posToVal(top, 'y');
    const c = cellAt(this.hm.cells, t, y);
    replace(this.readout, c
      ? `${formatUtc(c.t * 1000)} · ${bucketRange(c.bucket)} · count ${formatNumber(c.bucket.count, 6)}`
      : `${formatUtc(t * 1000)} · ${formatNumber(y)} · no observations`);
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
  }

  dispose() {
    this.destroy();
    this.resize.disconnect();
  }
}
