// The proxies the VM uses: from berth.yaml, or else from the engine's environment; rewritten for
// the guest (the host's loopback is 10.0.2.2 there) and masked for display.
import type { ProxySetting, Settings } from '../shared/settings.js';
import type { ProxyStatus } from '../shared/status.js';
import { BerthFailure } from './errors.js';

/** QEMU user networking's address for the host's loopback, as the guest sees it. */
export const HOST_LOOPBACK_IN_GUEST = '10.0.2.2';

/** The schemes Go's proxy support (dockerd, containerd) understands. */
const SCHEMES = ['http:', 'https:', 'socks5:', 'socks5h:'];

/** Why `v` cannot be a proxy URL, or undefined when it can (an empty string means no proxy). */
export function proxyUrlProblem(v: string): string | undefined {
  if (/[\u0000-\u001f\u007f-\u009f\s]/.test(v)) return 'contains a newline, space or other control character';
  if (v === '') return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return `${JSON.stringify(v)} is not a URL (e.g. http://proxy.example:3128)`;
  }
  if (!SCHEMES.includes(u.protocol)) return `${JSON.stringify(v)} must start with http://, https://, socks5:// or socks5h:// (e.g. http://proxy.example:3128)`;
  if (!u.hostname) return `${JSON.stringify(v)} names no host`;
  return undefined;
}

/** Why `v` cannot be a NO_PROXY list, or undefined. */
export function noProxyProblem(v: string): string | undefined {
  return /[\u0000-\u001f\u007f-\u009f]/.test(v) ? 'contains a newline or other control character' : undefined;
}

/** The first of the variables that is set (Go's order: the uppercase name first). */
function fromEnv(env: NodeJS.ProcessEnv, name: string): { name: string; value: string } | undefined {
  for (const n of [name, name.toLowerCase()]) {
    const v = env[n];
    if (v !== undefined && v !== '') return { name: n, value: v.trim() };
  }
  return undefined;
}

/**
 * The proxies in effect before the guest rewrite: berth.yaml's `proxy` when the key is there,
 * else the environment's. A scheme-less environment value gets http://, as Go and curl read it;
 * anything else that is not a proxy URL fails the start naming the variable.
 */
export function effectiveProxy(settings: Pick<Settings, 'proxy'>, env: NodeJS.ProcessEnv): { proxy: ProxySetting; source: ProxyStatus['source'] } {
  if (settings.proxy) {
    const p = Object.fromEntries(Object.entries(settings.proxy).filter(([, v]) => v !== undefined && v !== '')) as ProxySetting;
    return { proxy: p, source: 'berth.yaml' };
  }
  const proxy: ProxySetting = {};
  for (const [key, name] of [['http', 'HTTP_PROXY'], ['https', 'HTTPS_PROXY']] as const) {
    const e = fromEnv(env, name);
    if (!e) continue;
    const value = /^[a-z][a-z0-9+.-]*:\/\//i.test(e.value) ? e.value : `http://${e.value}`;
    const bad = proxyUrlProblem(value);
    if (bad) {
      throw new BerthFailure('E_CONFIG', `${e.name} in Berth's environment: ${bad}`, 'Fix the variable, or set proxy in berth.yaml (proxy: {} uses none).');
    }
    proxy[key] = value;
  }
  const np = fromEnv(env, 'NO_PROXY');
  if (np) {
    const bad = noProxyProblem(np.value);
    if (bad) throw new BerthFailure('E_CONFIG', `${np.name} in Berth's environment: ${bad}`, 'Fix the variable, or set proxy.noProxy in berth.yaml.');
    proxy.noProxy = np.value;
  }
  return { proxy, source: proxy.http || proxy.https || proxy.noProxy ? 'environment' : 'none' };
}

const isLoopbackHost = (h: string) => h === 'localhost' || h.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '[::1]';

/** Splits a proxy URL at its host, keeping the text around it as written (no normalising). */
function hostPart(url: string): { before: string; host: string; after: string } | undefined {
  const m = /^([a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?)(\[[^\]]*\]|[^:/?#]*)(.*)$/i.exec(url);
  return m ? { before: m[1]!, host: m[2]!, after: m[3]! } : undefined;
}

/** The URL as the guest must use it: a proxy on the host's loopback is at 10.0.2.2 from the VM. */
export function forGuest(url: string): string {
  const p = hostPart(url);
  if (!p || !isLoopbackHost(p.host.toLowerCase())) return url;
  return p.before + HOST_LOOPBACK_IN_GUEST + p.after;
}

/** The URL with its credentials (user and password, or a token as the user) replaced by ***. */
export function maskCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@');
}

export interface GuestProxy {
  http: string;
  https: string;
  noProxy: string;
}

/** What the guest gets (seed values, empty when unset) and what the status shows. */
export function guestProxy(settings: Pick<Settings, 'proxy'>, env: NodeJS.ProcessEnv): { seed: GuestProxy; status: Omit<ProxyStatus, 'caCertificates'> } {
  const { proxy, source } = effectiveProxy(settings, env);
  const seed: GuestProxy = { http: proxy.http ? forGuest(proxy.http) : '', https: proxy.https ? forGuest(proxy.https) : '', noProxy: proxy.noProxy ?? '' };
  return { seed, status: proxyStatusOf(seed, source) };
}

/** The status of what the guest was given (also read back from a seed for a VM booted earlier). */
export function proxyStatusOf(seed: GuestProxy, source: ProxyStatus['source']): Omit<ProxyStatus, 'caCertificates'> {
  const st: Omit<ProxyStatus, 'caCertificates'> = { source };
  if (seed.http) st.http = maskCredentials(seed.http);
  if (seed.https) st.https = maskCredentials(seed.https);
  if (seed.noProxy) st.noProxy = seed.noProxy;
  if ([seed.http, seed.https].some((u) => u && hostPart(u)?.host === HOST_LOOPBACK_IN_GUEST)) {
    st.note = `the host's loopback is ${HOST_LOOPBACK_IN_GUEST} from the VM`;
  }
  return st;
}
