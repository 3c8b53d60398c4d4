// The expression input with completion of metric names, label names and label values.

import { cachedList } from './api.js';
import { AGGREGATIONS, FUNCTIONS, KEYWORDS, applyCompletion, completionContext, escapeValue, rank } from './complete.js';
import { h } from './dom.js';

/** Suggestions ({label, kind, insert}) for the context at the cursor. */
async function suggestions(ctx) {
  if (ctx.kind === 'metric') {
    const names = await cachedList('/api/v1/label/__name__/values');
    const all = [
      ...names.map((n) => ({ label: n, kind: 'metric' })),
      ...FUNCTIONS.map((n) => ({ label: n, kind: 'function', insert: `${n}(` })),
      ...AGGREGATIONS.map((n) => ({ label: n, kind: 'aggregation', insert: `${n}(` })),
      ...KEYWORDS.map((n) => ({ label: n, kind: 'keyword' })),
    ];
    return rank(ctx.prefix, all);
  }
  const match = ctx.metric ? { 'match[]': `{__name__="${escapeValue(ctx.metric)}"}` } : {};
  if (ctx.kind === 'label') {
    const names = await cachedList('/api/v1/labels', match);
    return rank(ctx.prefix, names.filter((n) => n !== '__name__').map((n) => ({ label: n, kind: 'label' })));
  }
  const values = await cachedList(`/api/v1/label/${encodeURIComponent(ctx.label)}/values`, match);
  return rank(ctx.prefix, values.map((v) => ({ label: v, kind: 'value', insert: escapeValue(v, ctx.quote) })));
}

/** A textarea with a suggestion list; `onRun()` on Enter (Shift+Enter: newline). */
export class ExprEditor {
  constructor({ value, onRun, onChange }) {
    this.onRun = onRun;
    this.onChange = onChange;
    this.items = [];
    this.active = -1;
    this.ctx = null;
    this.seq = 0;
    this.input = h('textarea', {
      class: 'expr-input',
      rows: 1,
      spellcheck: 'false',
      placeholder: 'Expression (press Shift+Enter for newlines)',
      'aria-label': 'expression',
      'aria-autocomplete': 'list',
      oninput: () => { this.autosize(); this.onChange(this.input.value); this.refresh(); },
      onkeydown: (e) => this.keydown(e),
      // Closing later lets a click on a suggestion land first; not if focus came back.
      onblur: () => setTimeout(() => { if (document.activeElement !== this.input) this.close(); }, 150),
      onclick: () => this.refresh(),
    });
    this.input.value = value;
    this.list = h('ul', { class: 'completions', role: 'listbox', hidden: true });
    this.el = h('div', { class: 'editor' }, this.input, this.list);
    setTimeout(() => this.autosize(), 0);
  }

  get value() {
    return this.input.value;
  }

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${this.input.scrollHeight + 2}px`;
  }

  async refresh() {
    const seq = ++this.seq;
    const ctx = completionContext(this.input.value, this.input.selectionStart);
    if (!ctx || (ctx.kind === 'metric' && ctx.prefix === '')) return this.close();
    const items = await suggestions(ctx);
    if (seq !== this.seq || document.activeElement !== this.input) return undefined;
    this.ctx = ctx;
    this.items = items;
    this.active = items.length ? 0 : -1;
    this.navigated = false;
    this.render();
    return undefined;
  }

  render() {
    this.list.replaceChildren(...this.items.map((it, i) => h('li', {
      role: 'option',
      class: i === this.active ? 'active' : '',
      'aria-selected': i === this.active ? 'true' : 'false',
      onmousedown: (e) => { e.preventDefault(); this.pick(i); },
    }, h('span', { class: 'c-label' }, it.label), h('span', { class: `c-kind c-kind-${it.kind}` }, it.kind))));
    this.list.hidden = this.items.length === 0;
    const act = this.list.children[this.active];
    if (act) act.scrollIntoView({ block: 'nearest' });
  }

  close() {
    this.seq++;
    this.items = [];
    this.list.hidden = true;
  }

  pick(i) {
    const it = this.items[i];
    if (!it || !this.ctx) return;
    const [text, cursor] = applyCompletion(this.input.value, this.input.selectionStart, this.ctx.prefix, it.insert ?? it.label);
    this.input.value = text;
    this.input.setSelectionRange(cursor, cursor);
    this.close();
    this.onChange(text);
    this.input.focus();
  }

  keydown(e) {
    const open = !this.list.hidden && this.items.length > 0;
    if (open && (e.key === 'ArrowDown' || e.key === 'ArrowUp')) {
      e.preventDefault();
      const n = this.items.length;
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.navigated = true;
      this.render();
    } else if (open && (e.key === 'Tab' || (e.key === 'Enter' && !e.shiftKey && this.navigated))) {
      e.preventDefault();
      this.pick(this.active);
    } else if (open && e.key === 'Escape') {
      this.close();
    } else if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      this.close();
      this.onRun();
    }
  }
}
