// The guest boundary: typed operations (guest.ts) over an exec transport, and every command line
// and script the engine sends (commands.ts, scripts.ts).
export { Guest, notSent } from './guest.js';
export type { ExecResult, GuestTransport } from './guest.js';
export { GUEST_COMMANDS, parseBootId, parseMountsStatus, shellQuote } from './commands.js';
export type { GuestMount } from './commands.js';
