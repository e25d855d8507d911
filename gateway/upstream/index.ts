export { type UpstreamOptions, UpstreamClient } from './client.js';
export { type UpstreamConfig, upstreamConfigSchema } from './config.js';
export type { ConnectionState, Delivered, UpstreamEvent } from './events.js';
export { redactUrl } from './url.js';
export type { InboundMessage, MessageHandler } from './inbound.js';
