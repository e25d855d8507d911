export { SerialAdapter, type SerialAdapterOptions } from './adapter.js';
export { CommandExpiredError, type CommandReply } from './commands.js';
export { type SerialPortConfig, serialConfigSchema, serialPortConfigSchema } from './config.js';
export type { SerialCounters } from './counters.js';
export type { DropReason } from './framing/types.js';
export { listSerialPorts, listPortsFromDev, type SerialPortInfo } from './list-ports.js';
export type { PortState } from './port.js';
