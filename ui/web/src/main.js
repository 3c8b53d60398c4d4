// Telltale UI: client-side routing between the pages.

import './style.css';
import { h } from './dom.js';
import { alertsPage } from './pages/alerts.js';
import { graphPage } from './pages/graph.js';
import { rulesPage } from './pages/rules.js';
import { statusPage } from './pages/status.js';
import { targetsPage } from './pages/targets.js';

const PAGES = [
  ['/graph', 'Graph', graphPage],
  ['/alerts', 'Alerts', alertsPage],
  ['/targets', 'Targets', targetsPage],
  ['/rules', 'Rules', rulesPage],
  ['/status', 'Status', statusPage],
];

const main = h('main', { id: 'content' });
const links = PAGES.map(([path, title]) => h('a', { href: path, class: 'nav-link', 'data-path': path }, title));
document.body.append(h('header', { class: 'nav' }, h('a', { href: '/graph', class: 'brand' }, 'Telltale'), h('nav', {}, links)), main);

let dispose = () => {};

function route() {
  const path = window.location.pathname === '/' ? '/graph' : window.location.pathname.replace(/\/+$/, '');
  const page = PAGES.find(([p]) => p === path) ?? PAGES[0];
  dispose();
  main.replaceChildren();
  for (const a of links) a.classList.toggle('active', a.dataset.path === page[0]);
  document.title = `${page[1]} · Telltale`;
  dispose = page[2](main) ?? (() => {});
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a.nav-link, a.brand');
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  window.history.pushState(null, '', a.getAttribute('href'));
  route();
});
window.addEventListener('popstate', route);
route();
