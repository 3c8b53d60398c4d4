// Rule groups from /api/v1/rules: alerting and recording rules, health and last evaluation.

import { apiGet } from '../api.js';
import { failure, h, labelBadges, note, replace } from '../dom.js';
import { ago } from '../duration.js';

export function rulesPage(root) {
  const body = h('div', { class: 'rules' }, note('loading', 'Loading…'));
  root.append(h('div', { class: 'page page-rules' }, h('h1', {}, 'Rules'), body));
  apiGet('/api/v1/rules').then(({ data }) => {
    const groups = data.groups ?? [];
    if (!groups.length) return replace(body, note('empty', 'No rule groups.'));
    return replace(body, groups.map((g) => h('section', { class: 'rule-group' },
      h('h2', {}, g.name, h('small', {}, ` ${g.file ?? ''} · every ${g.interval ?? '?'}s`,
        g.lastEvaluation ? ` · last evaluated ${ago(Date.parse(g.lastEvaluation))}` : '')),
      h('table', { class: 'rules-table' },
        h('thead', {}, h('tr', {}, ['Rule', 'State', 'Health', 'Last evaluation', 'Evaluation time', 'Error'].map((c) => h('th', {}, c)))),
        h('tbody', {}, (g.rules ?? []).map((r) => h('tr', { class: 'rule', dataset: { type: r.type } },
          h('td', {}, h('pre', { class: 'rule-def' }, ruleText(r)), r.labels ? labelBadges(r.labels) : null),
          h('td', {}, r.type === 'alerting' ? h('span', { class: `state state-${r.state}` }, `${r.state ?? ''}${r.alerts?.length ? ` (${r.alerts.length})` : ''}`) : 'recording'),
          h('td', {}, h('span', { class: `health health-${r.health}` }, r.health ?? '')),
          h('td', {}, r.lastEvaluation ? ago(Date.parse(r.lastEvaluation)) : ''),
          h('td', {}, r.evaluationTime !== undefined ? `${(r.evaluationTime * 1000).toFixed(2)}ms` : ''),
          h('td', { class: 'error' }, r.lastError ?? '')))))))); 
  }, (e) => replace(body, failure(e, 'Rules')));
  return () => {};
}

function ruleText(r) {
  const lines = [`${r.type === 'alerting' ? 'alert' : 'record'}: ${r.name}`, `expr: ${r.query}`];
  if (r.duration) lines.push(`for: ${r.duration}s`);
  for (const [k, v] of Object.entries(r.annotations ?? {})) lines.push(`${k}: ${v}`);
  return lines.join('\n');
}
