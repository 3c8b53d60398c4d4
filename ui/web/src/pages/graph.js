// The expression browser page: panels from the URL (g0.*, g1.*, ...), kept in the URL.

import { h } from '../dom.js';
import { Panel } from '../panel.js';
import { defaultPanel, formatPanels, parsePanels } from '../url.js';

export function graphPage(root) {
  const states = parsePanels(window.location.search);
  const list = h('div', { class: 'panels' });
  let panels = [];

  const sync = () => {
    const qs = formatPanels(panels.map((p) => p.state));
    window.history.replaceState(null, '', `/graph?${qs}`);
  };
  const add = (state, run) => {
    const panel = new Panel(state, {
      index: panels.length,
      onState: sync,
      onRemove: () => {
        panels = panels.filter((p) => p !== panel);
        panel.el.remove();
        if (!panels.length) add(defaultPanel(), false);
        sync();
      },
    });
    panels.push(panel);
    list.append(panel.el);
    if (run) panel.run();
    return panel;
  };
  states.forEach((s) => add(s, s.expr.trim() !== ''));
  if (states.every((s) => s.expr.trim() === '')) panels[0].editor.input.focus();

  root.append(h('div', { class: 'page page-graph' }, list,
    h('button', { class: 'btn add-panel', onclick: () => { add(defaultPanel(), false); sync(); } }, 'Add panel')));
  return () => panels.forEach((p) => p.dispose());
}
