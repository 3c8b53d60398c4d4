// Alerts (/api/v1/alerts), firing then pending, and silences (/api/v2/silences).

import { apiGet } from '../api.js';
import { failure, h, labelBadges, note, replace } from '../dom.js';
import { ago } from '../duration.js';

export function alertsPage(root) {
  const alerts = h('div', { class: 'alerts' }, note('loading', 'Loading…'));
  const silences = h('div', { class: 'silences' }, note('loading', 'Loading…'));
  root.append(h('div', { class: 'page page-alerts' }, h('h1', {}, 'Alerts'), alerts, h('h1', {}, 'Silences'), silences));

  apiGet('/api/v1/alerts').then(({ data }) => {
    const all = data.alerts ?? [];
    if (!all.length) return replace(alerts, note('empty', 'No pending or firing alerts.'));
    const order = { firing: 0, pending: 1 };
    all.sort((a, b) => (order[a.state] ?? 2) - (order[b.state] ?? 2) || (a.labels.alertname ?? '').localeCompare(b.labels.alertname ?? ''));
    const counts = ['firing', 'pending'].map((s) => `${all.filter((a) => a.state === s).length} ${s}`).join(', ');
    return replace(alerts, h('p', { class: 'summary' }, counts), h('table', { class: 'alerts-table' },
      h('thead', {}, h('tr', {}, ['Alert', 'State', 'Active since', 'Value', 'Labels', 'Annotations'].map((c) => h('th', {}, c)))),
      h('tbody', {}, all.map((a) => h('tr', { class: 'alert', dataset: { state: a.state } },
        h('td', {}, a.labels.alertname ?? ''),
        h('td', {}, h('span', { class: `state state-${a.state}` }, a.state.toUpperCase())),
        h('td', { title: a.activeAt }, a.activeAt ? ago(Date.parse(a.activeAt)) : ''),
        h('td', {}, a.value ?? ''),
        h('td', {}, labelBadges(Object.fromEntries(Object.entries(a.labels).filter(([k]) => k !== 'alertname')))),
        h('td', {}, Object.entries(a.annotations ?? {}).map(([k, v]) => h('div', {}, h('b', {}, `${k}: `), v))))))));
  }, (e) => replace(alerts, failure(e, 'Alerts')));

  apiGet('/api/v2/silences').then(({ data }) => {
    const list = (Array.isArray(data) ? data : []).filter((s) => (s.status?.state ?? 'active') !== 'expired');
    if (!list.length) return replace(silences, note('empty', 'No active or pending silences.'));
    return replace(silences, h('table', { class: 'silences-table' },
      h('thead', {}, h('tr', {}, ['Matchers', 'State', 'Starts', 'Ends', 'Created by', 'Comment'].map((c) => h('th', {}, c)))),
      h('tbody', {}, list.map((s) => h('tr', { class: 'silence' },
        h('td', {}, (s.matchers ?? []).map((m) => h('span', { class: 'label' }, `${m.name}${m.isEqual === false ? '!' : '='}${m.isRegex ? '~' : ''}"${m.value}"`))),
        h('td', {}, s.status?.state ?? ''),
        h('td', {}, s.startsAt ?? ''),
        h('td', {}, s.endsAt ?? ''),
        h('td', {}, s.createdBy ?? ''),
        h('td', {}, s.comment ?? ''))))));
  }, (e) => replace(silences, failure(e, 'Silences')));
  return () => {};
}
