// Cluster status: /api/v1/status/cluster (shards, leaders, replicas, lag, disk per tier),
// build info, and disk per tier and ingestion rate from Telltale's own metrics.

import { apiGet } from '../api.js';
import { failure, h, note, replace } from '../dom.js';

const DISK_QUERY = 'sum by (tier) (telltale_storage_disk_bytes)';
const INGEST_QUERY = 'sum(rate(telltale_storage_samples_appended_total[1m]))';

export function statusPage(root) {
  const cluster = h('div', { class: 'cluster' }, note('loading', 'Loading…'));
  const storage = h('div', { class: 'storage' }, note('loading', 'Loading…'));
  const build = h('div', { class: 'buildinfo' }, note('loading', 'Loading…'));
  root.append(h('div', { class: 'page page-status' },
    h('h1', {}, 'Cluster'), cluster,
    h('h1', {}, 'Storage'), storage,
    h('h1', {}, 'Build information'), build));

  apiGet('/api/v1/status/cluster').then(({ data }) => replace(cluster, clusterView(data)), (e) => replace(cluster, failure(e, 'Cluster status')));
  apiGet('/api/v1/status/buildinfo').then(({ data }) => replace(build, kvTable(data)), (e) => replace(build, failure(e, 'Build information')));
  Promise.allSettled([apiGet('/api/v1/query', { query: DISK_QUERY }), apiGet('/api/v1/query', { query: INGEST_QUERY })]).then(([disk, ingest]) => {
    const rows = [];
    if (disk.status === 'fulfilled') {
      for (const s of disk.value.data.result ?? []) rows.push([`disk (${s.metric.tier ?? 'all'})`, bytes(parseFloat(s.value[1]))]);
    }
    if (ingest.status === 'fulfilled') {
      for (const s of ingest.value.data.result ?? []) rows.push(['ingestion rate', `${parseFloat(s.value[1]).toFixed(1)} samples/s`]);
    }
    replace(storage, rows.length ? kvTable(Object.fromEntries(rows)) : note('empty', 'Disk per tier and ingestion rate: no self-monitoring data yet (Telltale scraping its own /metrics)'));
  });
  return () => {};
}

/** Shards with their leader and replicas when the document has them; other fields as a table. */
function clusterView(data) {
  if (!data || typeof data !== 'object') return note('na', 'Cluster status: not available');
  const parts = [];
  const scalars = Object.fromEntries(Object.entries(data).filter(([, v]) => v === null || typeof v !== 'object'));
  if (Object.keys(scalars).length) parts.push(kvTable(scalars));
  for (const [key, value] of Object.entries(data)) {
    if (value === null || typeof value !== 'object') continue;
    if (key === 'shards' && Array.isArray(value)) parts.push(shardsView(value));
    else if (key === 'disk_bytes') parts.push(h('h2', {}, 'Disk per tier'), h('table', { class: 'kv disk' }, h('tbody', {}, Object.entries(value).map(([tier, n]) => h('tr', {}, h('th', {}, tier), h('td', {}, bytes(n)))))));
    else if (Array.isArray(value)) parts.push(h('h2', {}, key), objectsTable(value));
    else parts.push(h('h2', {}, key), kvTable(value));
  }
  return parts.length ? h('div', {}, parts) : note('empty', 'No cluster information.');
}

function shardsView(shards) {
  return h('div', { class: 'shards' }, shards.map((s, i) => {
    const id = s.id ?? s.shard ?? i;
    const replicas = s.replicas ?? s.members ?? [];
    return h('section', { class: 'shard' },
      h('h2', {}, `Shard ${id}`, h('small', {}, ` leader: ${s.leader ?? 'none'}`)),
      Array.isArray(replicas) && replicas.length ? objectsTable(replicas.map((r) => (typeof r === 'object' ? r : { replica: r })), s.leader) : note('empty', 'No replicas reported.'));
  }));
}

/** Replica fields shown first, in this order; any others follow as reported. */
const FIRST_COLUMNS = ['id', 'address', 'role', 'alive', 'lag', 'applied_index', 'last_log_index', 'term', 'disk_bytes', 'pid', 'restarts', 'exit', 'error'];

/** A table with one row per object and one column per key seen; the leader's row marked. */
function objectsTable(rows, leader) {
  const seen = new Set(rows.flatMap((r) => Object.keys(r ?? {})));
  const cols = [...FIRST_COLUMNS.filter((c) => seen.has(c)), ...[...seen].filter((c) => !FIRST_COLUMNS.includes(c))];
  const isLeader = (r) => r.role === 'leader' || (leader !== undefined && leader !== null && Object.values(r).includes(leader));
  return h('table', { class: 'kv-rows' },
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', {}, c)))),
    h('tbody', {}, rows.map((r) => h('tr', { class: isLeader(r) ? 'leader' : '' },
      cols.map((c) => h('td', { class: c === 'lag' && Number(r[c]) > 0 ? 'lagging' : '' }, c === 'disk_bytes' ? tiers(r[c]) : show(r[c])))))));
}

/** `{raw: n, 1m: n, 1h: n}` as "raw 3.0 MiB · 1m 2.0 KiB · 1h 0 B". */
function tiers(v) {
  if (!v || typeof v !== 'object') return show(v);
  return Object.entries(v).map(([tier, n]) => `${tier} ${bytes(n)}`).join(' · ');
}

function kvTable(obj) {
  return h('table', { class: 'kv' }, h('tbody', {}, Object.entries(obj ?? {}).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, show(v))))));
}

function show(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function bytes(n) {
  if (!Number.isFinite(n)) return String(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
