export { ModbusAdapter, type ModbusAdapterOptions } from './adapter.js';
export { type ModbusBusConfig, modbusBusSchema, modbusConfigSchema } from './config.js';
export type { ModbusCounters, ModbusStat } from './stats.js';
