// A tiny element builder: h('div', {class: 'x', onclick: f}, 'text', child, [children]).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** A "not available" / error / empty note. */
export function note(kind, text) {
  return h('div', { class: `note note-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** A label set as small badges. */
export function labelBadges(labels) {
  return h('span', { class: 'labels' }, Object.keys(labels ?? {}).sort().map((k) => h('span', { class: 'label' }, `${k}="${labels[k]}"`)));
}

/** Renders an API failure: "not available" for a missing endpoint, else the error. */
export function failure(e, what) {
  if (e && e.notAvailable) return note('na', `${what}: not available on this server`);
  return note('error', `${what}: ${e && e.message ? e.message : e}`);
}
