// Served by the bridge as /__berth/bridge.js, before the renderer's own module script: gives the
// page the same `window.berth` (BerthApi) that the Electron preload gives it — requests as
// POST /__berth/invoke, events from one EventSource. The server fills in the event names.
//
// The bridge's token is not in this file (anyone may fetch it). It comes from the test driver,
// which defines window.__berthBridgeToken in an init script, or from the address
// `npm run dev:web` prints: `…/#berth-token=<hex>` (a fragment never reaches a server). The
// fragment is taken out of the address at once, so the renderer sees its own `#pane` only, and
// kept in sessionStorage for reloads of the same tab.
(() => {
  'use strict';
  const EVENTS = __BERTH_EVENTS__;
  const KEY = 'berth-bridge-token';
  let token = typeof window.__berthBridgeToken === 'string' ? window.__berthBridgeToken : null;
  try {
    delete window.__berthBridgeToken;
  } catch {
    // not configurable: the page can read it anyway
  }
  const parts = location.hash.replace(/^#/, '').split('&');
  const given = parts.find((p) => p.startsWith('berth-token='));
  if (given) {
    token = given.slice('berth-token='.length);
    const rest = parts.filter((p) => p && p !== given).join('&');
    history.replaceState(history.state, '', location.pathname + location.search + (rest ? '#' + rest : ''));
  }
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else token = sessionStorage.getItem(KEY);
  } catch {
    // storage disabled: the token lives as long as this page
  }
  const NO_TOKEN = {
    ok: false,
    error: {
      code: 'E_DISCONNECTED',
      message: 'this page has no Berth bridge token',
      hint: 'Open the address that `npm run dev:web` printed (it carries the token after #berth-token=).',
    },
  };

  const listeners = new Map(EVENTS.map((e) => [e, new Set()]));
  if (token) {
    const source = new EventSource('/__berth/events?token=' + encodeURIComponent(token));
    source.addEventListener('berth', (m) => {
      const { name, payload } = JSON.parse(m.data);
      const set = listeners.get(name);
      if (set) for (const l of [...set]) l(payload);
    });
  }

  const api = {
    async invoke(method, params) {
      if (!token) return NO_TOKEN;
      let res;
      try {
        res = await fetch('/__berth/invoke', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-berth-token': token },
          body: JSON.stringify({ method, params }),
        });
      } catch (e) {
        return { ok: false, error: { code: 'E_DISCONNECTED', message: 'the Berth bridge does not answer: ' + String(e) } };
      }
      if (!res.ok) {
        const text = await res.text().catch(() => '');
        return { ok: false, error: { code: 'E_DISCONNECTED', message: 'the Berth bridge refused the request: ' + res.status + ' ' + text } };
      }
      return res.json();
    },
    on(event, listener) {
      const set = listeners.get(event);
      if (!set) throw new Error('berth: unknown event ' + JSON.stringify(String(event).slice(0, 64)));
      if (typeof listener !== 'function') throw new Error('berth: listener must be a function');
      const l = (p) => listener(p);
      set.add(l);
      return () => {
        set.delete(l);
      };
    },
  };
  Object.defineProperty(window, 'berth', { value: Object.freeze(api), enumerable: true });
})();
