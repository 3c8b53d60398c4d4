// Live mode: the server evaluates the query each step and pushes new points over a WebSocket.

/**
 * Opens `/api/v1/live` for `expr` at `stepMs`, starting after `fromMs`. Calls
 * `onPoints(result, warnings)` with each pushed `{resultType, result}` and
 * `onStatus(text, isError)`.
 * Returns a function that closes the connection. Reconnects (with backoff) when dropped.
 */
export function openLive({ expr, stepMs, fromMs, onPoints, onStatus }) {
  let closed = false;
  let socket = null;
  let retryMs = 1000;
  let lastMs = fromMs;

  const connect = () => {
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const url = new URL(`${proto}//${window.location.host}/api/v1/live`);
    url.searchParams.set('query', expr);
    url.searchParams.set('step', String(stepMs / 1000));
    url.searchParams.set('start', String(lastMs / 1000));
    socket = new WebSocket(url);
    socket.onopen = () => {
      retryMs = 1000;
      onStatus('live', false);
    };
    socket.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.type === 'points') {
        if (typeof msg.end === 'number') lastMs = Math.max(lastMs, msg.end * 1000);
        onPoints(msg.data, msg.warnings ?? []);
      } else if (msg.type === 'error') {
        onStatus(msg.error, true);
      }
    };
    socket.onclose = (ev) => {
      if (closed) return;
      if (ev.code === 1008) {
        onStatus(ev.reason || 'live query refused', true);
        return;
      }
      onStatus(`disconnected, retrying in ${retryMs / 1000}s`, true);
      setTimeout(() => { if (!closed) connect(); }, retryMs);
      retryMs = Math.min(retryMs * 2, 30_000);
    };
  };
  connect();
  return () => {
    closed = true;
    if (socket) socket.close(1000);
  };
}
