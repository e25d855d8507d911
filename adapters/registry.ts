import type { AdapterDescriptor } from './descriptor.js';
import { modbusDescriptor } from './modbus/descriptor.js';
import { mqttsnDescriptor } from './mqttsn/descriptor.js';
import { serialDescriptor } from './serial/descriptor.js';

/**
 * Every adapter kind the gateway knows, in the order their instances are built and started. The
 * only place outside an adapter's own folder that names a concrete adapter.
 */
export const adapterDescriptors = [serialDescriptor, modbusDescriptor, mqttsnDescriptor] as const;

type Descriptors = (typeof adapterDescriptors)[number];
/** The adapter sections of the config schema, by key. */
export type AdapterConfigShape = { [D in Descriptors as D['key']]: D['schema'] };

export function adapterConfigShape(): AdapterConfigShape {
  return Object.fromEntries(adapterDescriptors.map((d) => [d.key, d.schema])) as AdapterConfigShape;
}

/** The same list, for code that treats every kind alike (a section is read by its own descriptor only). */
export const adapterKinds: readonly AdapterDescriptor[] = adapterDescriptors;
