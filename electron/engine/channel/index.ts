export { ChannelLink } from './link.js';
export type { ChannelLinkOptions, DatagramPort, ExecResult, HelloInfo, ListenerWatch } from './link.js';
