// Served by the bridge as /__berth/bridge.js, before the renderer's own module script: gives the
// page the same `window.berth` (BerthApi) that the Electron preload gives it — requests as
// POST /__berth/invoke, events from one EventSource. The server fills in the two constants.
(() => {
  'use strict';
  const TOKEN = __BERTH_TOKEN__;
  const EVENTS = __BERTH_EVENTS__;
  const listeners = new Map(EVENTS.map((e) => [e, new Set()]));
  const source = new EventSource('/__berth/events?token=' + encodeURIComponent(TOKEN));
  source.addEventListener('berth', (m) => {
    const { name, payload } = JSON.parse(m.data);
    const set = listeners.get(name);
    if (set) for (const l of [...set]) l(payload);
  });

  const api = {
    async invoke(method, params) {
      let res;
      try {
        res = await fetch('/__berth/invoke', {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-berth-token': TOKEN },
          body: JSON.stringify({ method, params }),
        });
      } catch (e) {
        return { ok: false, error: { code: 'E_DISCONNECTED', message: 'the Berth bridge does not answer: ' + String(e) } };
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
