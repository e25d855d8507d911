export { MqttSnAdapter, type MqttSnAdapterOptions } from './adapter.js';
export * as codec from './codec/index.js';
export { type MqttsnConfig, mqttsnConfigSchema } from './config.js';
export type { DropReason, LifecycleState, MqttSnCounters, MqttSnEvent } from './stats.js';
export type { Reserved } from './context.js';
