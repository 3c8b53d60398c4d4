// The Prometheus HTTP API, as the UI calls it.

/** An API call that failed; `status` is the HTTP status (0 for a network error). */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }

  /** True when the endpoint does not exist here (the page shows "not available"). */
  get notAvailable() {
    return this.status === 404 || this.status === 405 || this.status === 501;
  }
}

/** GET `path` with `params`; resolves to the body's `data` (or the body without envelope). */
export async function apiGet(path, params = {}, { signal } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.forEach((x) => url.searchParams.append(k, x));
    else if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
  }
  let resp;
  try {
    resp = await fetch(url, { headers: { Accept: 'application/json' }, signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`network error: ${e.message}`, 0);
  }
  let body = null;
  const text = await resp.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!resp.ok) {
    const msg = body && body.error ? body.error : `${resp.status} ${resp.statusText}`.trim();
    throw new ApiError(msg, resp.status);
  }
  if (body && typeof body === 'object' && 'status' in body && 'data' in body) {
    if (body.status !== 'success') throw new ApiError(body.error ?? 'request failed', resp.status);
    return { data: body.data, warnings: body.warnings ?? [] };
  }
  return { data: body, warnings: [] };
}

/** Completion sources, cached for a minute. */
const cache = new Map();
export async function cachedList(path, params = {}) {
  const key = path + JSON.stringify(params);
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < 60_000) return hit.value;
  const value = apiGet(path, params).then((r) => (Array.isArray(r.data) ? r.data : []), () => []);
  cache.set(key, { at: Date.now(), value });
  return value;
}
