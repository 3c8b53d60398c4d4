// One panel of the expression browser: editor, graph/table tabs, range/step/stacked/live.

import { ApiError, apiGet } from './api.js';
import { Chart } from './chart.js';
import { h, note, replace } from './dom.js';
import { defaultStepMs, formatDuration, formatUtc, parseDuration, parseUtc, stepRange } from './duration.js';
import { ExprEditor } from './editor.js';
import { HeatmapSet } from './heatmapchart.js';
import { QUANTILES } from './histogram.js';
import { openLive } from './live.js';
import { hasHistograms, mergeSeries, pointCount, quantileSeries, toSeries } from './series.js';
import { resultTable } from './table.js';

/** Tells the charts of one panel apart from other panels' (they share the cursor). */
let panels = 0;

export class Panel {
  /** `state` as url.js describes a panel; `onState()` after any change; `onRemove()`. */
  constructor(state, { onState, onRemove, index }) {
    this.state = state;
    this.onState = onState;
    this.series = [];
    this.chart = null;
    this.heatmaps = null;
    this.syncKey = `panel-${panels++}`;
    this.stopLive = null;
    this.abort = null;
    this.warnings = [];

    this.editor = new ExprEditor({
      value: state.expr,
      onRun: () => this.run(),
      onChange: (v) => { this.state.expr = v; this.onState(); },
    });
    this.status = h('div', { class: 'panel-status', role: 'status' });
    this.body = h('div', { class: 'panel-body' });

    this.rangeInput = h('input', { class: 'range-input', size: 6, value: formatDuration(state.rangeMs), 'aria-label': 'range', onchange: () => this.setRange(parseDuration(this.rangeInput.value)) });
    this.endInput = h('input', { class: 'end-input', size: 19, placeholder: 'now', value: state.endMs === null ? '' : formatUtc(state.endMs), 'aria-label': 'end time (UTC)', onchange: () => this.setEnd(parseUtc(this.endInput.value)) });
    this.stepInput = h('input', { class: 'step-input', size: 6, placeholder: 'auto', value: state.stepMs === null ? '' : formatDuration(state.stepMs), 'aria-label': 'resolution step', onchange: () => { this.state.stepMs = parseDuration(this.stepInput.value); this.onState(); this.run(); } });
    this.stackedBox = h('input', { type: 'checkbox', class: 'stacked-toggle', checked: state.stacked, onchange: () => { this.state.stacked = this.stackedBox.checked; this.onState(); this.draw(); } });
    this.liveBox = h('input', { type: 'checkbox', class: 'live-toggle', checked: state.live, onchange: () => this.setLive(this.liveBox.checked) });
    this.histSelect = h('select', { class: 'hist-view', onchange: () => { this.state.histView = this.histSelect.value; this.onState(); this.draw(); } },
      h('option', { value: 'heatmap' }, 'heatmap + p50/p90/p99'),
      h('option', { value: 'quantiles' }, 'p50/p90/p99 lines'));
    this.histSelect.value = state.histView;
    this.histLabel = h('label', { class: 'hist-view-label', hidden: true, title: 'how native histogram series are drawn' }, 'histograms ', this.histSelect);

    this.graphControls = h('div', { class: 'graph-controls' },
      h('button', { class: 'btn', title: 'shorter range', onclick: () => this.setRange(stepRange(this.state.rangeMs, -1)) }, '−'),
      this.rangeInput,
      h('button', { class: 'btn', title: 'longer range', onclick: () => this.setRange(stepRange(this.state.rangeMs, 1)) }, '+'),
      h('button', { class: 'btn', title: 'earlier', onclick: () => this.shiftEnd(-1) }, '«'),
      this.endInput,
      h('button', { class: 'btn', title: 'later', onclick: () => this.shiftEnd(1) }, '»'),
      h('label', {}, 'step ', this.stepInput),
      h('label', {}, this.stackedBox, ' stacked'),
      h('label', { class: 'live-label' }, this.liveBox, ' live'),
      this.histLabel);

    this.tabs = [
      h('button', { class: 'tab tab-graph', role: 'tab', onclick: () => this.setTab(0) }, 'Graph'),
      h('button', { class: 'tab tab-table', role: 'tab', onclick: () => this.setTab(1) }, 'Table'),
    ];
    this.el = h('section', { class: 'panel', dataset: { panel: String(index) } },
      h('div', { class: 'panel-head' }, this.editor.el,
        h('button', { class: 'btn btn-primary execute', onclick: () => this.run() }, 'Execute'),
        h('button', { class: 'btn remove', title: 'remove panel', onclick: () => { this.dispose(); onRemove(); } }, '×')),
      h('div', { class: 'tabs', role: 'tablist' }, this.tabs),
      this.graphControls,
      this.status,
      this.body);
    this.applyTab();
  }

  setTab(tab) {
    this.state.tab = tab;
    this.onState();
    this.applyTab();
    this.run();
  }

  applyTab() {
    this.tabs.forEach((t, i) => {
      t.classList.toggle('active', i === this.state.tab);
      t.setAttribute('aria-selected', i === this.state.tab ? 'true' : 'false');
    });
    this.graphControls.hidden = this.state.tab !== 0;
    if (this.state.tab !== 0) this.stopLiveMode();
  }

  setRange(ms) {
    if (!ms) return;
    this.state.rangeMs = ms;
    this.rangeInput.value = formatDuration(ms);
    this.onState();
    this.run();
  }

  setEnd(ms) {
    this.state.endMs = ms;
    this.endInput.value = ms === null ? '' : formatUtc(ms);
    if (ms !== null && this.state.live) {
      this.state.live = false;
      this.liveBox.checked = false;
    }
    this.onState();
    this.run();
  }

  shiftEnd(dir) {
    const end = this.state.endMs ?? Date.now();
    const next = end + (dir * this.state.rangeMs) / 2;
    this.setEnd(next >= Date.now() ? null : Math.round(next));
  }

  setLive(on) {
    this.state.live = on;
    if (on) {
      this.state.endMs = null;
      this.endInput.value = '';
    }
    this.onState();
    this.run();
  }

  stepMs() {
    return this.state.stepMs ?? defaultStepMs(this.state.rangeMs);
  }

  setStatus(...parts) {
    replace(this.status, ...parts);
  }

  async run() {
    this.stopLiveMode();
    if (this.abort) this.abort.abort();
    const expr = this.state.expr.trim();
    if (!expr) {
      this.setStatus();
      replace(this.body, note('empty', 'Enter an expression and press Execute.'));
      return;
    }
    this.abort = new AbortController();
    const started = performance.now();
    this.setStatus(h('span', { class: 'loading' }, 'Loading…'));
    try {
      if (this.state.tab === 1) await this.runTable(expr, this.abort.signal);
      else await this.runGraph(expr, this.abort.signal);
      this.setStatus(h('span', { class: 'timing' }, `Load time: ${Math.round(performance.now() - started)}ms`),
        h('span', { class: 'result-count' }, ` · Result series: ${this.series.length}`),
        this.warnings.map((w) => note('warn', w)));
    } catch (e) {
      if (e.name === 'AbortError') return;
      this.series = [];
      this.setStatus(note('error', e instanceof ApiError ? `Error executing query: ${e.message}` : String(e)));
      replace(this.body);
      this.disposeGraph();
    }
  }

  async runTable(expr, signal) {
    const time = (this.state.endMs ?? Date.now()) / 1000;
    const { data, warnings } = await apiGet('/api/v1/query', { query: expr, time }, { signal });
    this.warnings = warnings;
    this.disposeGraph();
    this.series = toSeries(data);
    replace(this.body, resultTable(data));
  }

  async runGraph(expr, signal) {
    const stepMs = this.stepMs();
    const end = this.state.endMs ?? Date.now();
    const start = end - this.state.rangeMs;
    const { data, warnings } = await apiGet('/api/v1/query_range', { query: expr, start: start / 1000, end: end / 1000, step: stepMs / 1000 }, { signal });
    this.warnings = warnings;
    this.series = toSeries(data);
    this.window = [start / 1000, end / 1000];
    this.draw();
    if (this.state.live && this.state.endMs === null) this.startLiveMode(expr, stepMs, end);
  }

  /**
   * Draws the series: floats in the graph; histogram series as heatmaps below it (the
   * graph hidden when it has nothing to show) or, in the quantiles view, as p50/p90/p99
   * lines in the graph.
   */
  draw() {
    if (this.state.tab !== 0) return;
    if (!this.chart) {
      this.chartEl = h('div', { class: 'graph', role: 'img' });
      this.heatmapEl = h('div', { class: 'heatmaps' });
      this.graphEl = h('div', { class: 'graph-area' }, this.chartEl, this.heatmapEl);
      replace(this.body, this.graphEl);
      this.chart = new Chart(this.chartEl, this.syncKey);
      this.heatmaps = new HeatmapSet(this.heatmapEl, this.syncKey);
    } else if (!this.body.contains(this.graphEl)) {
      replace(this.body, this.graphEl);
    }
    const histograms = hasHistograms(this.series);
    const heatmaps = histograms && this.state.histView !== 'quantiles';
    const floats = this.series.filter((s) => s.points.size);
    const lines = heatmaps ? floats : [...floats, ...quantileSeries(this.series, QUANTILES)];
    this.histLabel.hidden = !histograms;
    this.chartEl.hidden = heatmaps && floats.length === 0;
    this.chart.update(lines, this.state.stacked, this.window);
    if (heatmaps) this.heatmaps.update(this.series, this.window, this.stepMs() / 1000);
    else this.heatmaps.clear();
    if (this.series.length === 0) this.chartEl.dataset.empty = 'true';
    else delete this.chartEl.dataset.empty;
  }

  disposeGraph() {
    if (this.chart) this.chart.dispose();
    if (this.heatmaps) this.heatmaps.clear();
    this.chart = null;
    this.heatmaps = null;
  }

  startLiveMode(expr, stepMs, fromMs) {
    this.stopLive = openLive({
      expr,
      stepMs,
      fromMs,
      onPoints: (data, warnings) => {
        const now = Date.now();
        const from = (now - this.state.rangeMs) / 1000;
        this.series = mergeSeries(this.series, toSeries(data), from);
        this.window = [from, now / 1000];
        this.draw();
        this.setStatus(h('span', { class: 'live-status' }, `Live · ${this.series.length} series · ${pointCount(this.series)} points · updated ${new Date(now).toLocaleTimeString()}`),
          warnings.map((w) => note('warn', w)));
      },
      onStatus: (text, isError) => {
        if (isError) this.setStatus(note('error', `Live: ${text}`));
      },
    });
  }

  stopLiveMode() {
    if (this.stopLive) this.stopLive();
    this.stopLive = null;
  }

  dispose() {
    this.stopLiveMode();
    if (this.abort) this.abort.abort();
    this.disposeGraph();
  }
}
