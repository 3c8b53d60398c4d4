// Scrape targets from /api/v1/targets, grouped by scrape pool.

import { apiGet } from '../api.js';
import { failure, h, labelBadges, note, replace } from '../dom.js';
import { ago } from '../duration.js';

export function targetsPage(root) {
  const filter = h('select', { class: 'health-filter', 'aria-label': 'show', onchange: () => render() },
    h('option', { value: 'all' }, 'All'), h('option', { value: 'unhealthy' }, 'Unhealthy'));
  const body = h('div', { class: 'targets' }, note('loading', 'Loading…'));
  root.append(h('div', { class: 'page page-targets' }, h('h1', {}, 'Targets'), h('div', { class: 'toolbar' }, filter), body));
  let data = null;
  // A scraper replica that did not answer: its targets are missing from the list.
  let warnings = [];

  const render = () => {
    if (!data) return;
    const warned = warnings.map((w) => note('warn', w));
    const active = (data.activeTargets ?? []).filter((t) => filter.value === 'all' || t.health !== 'up');
    if (!active.length) {
      replace(body, ...warned, note('empty', 'No targets.'));
      return;
    }
    const pools = new Map();
    for (const t of active) {
      if (!pools.has(t.scrapePool)) pools.set(t.scrapePool, []);
      pools.get(t.scrapePool).push(t);
    }
    replace(body, ...warned, [...pools.keys()].sort().map((pool) => {
      const ts = pools.get(pool);
      const up = ts.filter((t) => t.health === 'up').length;
      return h('section', { class: 'pool' },
        h('h2', {}, `${pool} (${up}/${ts.length} up)`),
        h('table', { class: 'targets-table' },
          h('thead', {}, h('tr', {}, ['Endpoint', 'State', 'Labels', 'Last scrape', 'Scrape duration', 'Scraper', 'Error'].map((c) => h('th', {}, c)))),
          h('tbody', {}, ts.map((t) => h('tr', { class: 'target', dataset: { health: t.health } },
            h('td', {}, h('a', { href: t.scrapeUrl, target: '_blank', rel: 'noopener' }, t.scrapeUrl)),
            h('td', {}, h('span', { class: `health health-${t.health}` }, t.health.toUpperCase())),
            h('td', {}, labelBadges(t.labels)),
            h('td', { title: t.lastScrape }, lastScrape(t.lastScrape)),
            h('td', {}, `${(t.lastScrapeDuration * 1000).toFixed(1)}ms`),
            h('td', { class: 'scraper' }, t.scraper ?? '—'),
            h('td', { class: 'error' }, t.lastError || '')))))); 
    }));
  };

  apiGet('/api/v1/targets').then(({ data: d, warnings: w }) => { data = d; warnings = w; render(); }, (e) => replace(body, failure(e, 'Targets')));
  return () => {};
}

function lastScrape(rfc3339) {
  const t = Date.parse(rfc3339);
  return !rfc3339 || rfc3339.startsWith('0001-') || Number.isNaN(t) ? 'never' : ago(t);
}
