import type { HaEntity } from '../../contracts/ha.js';

/** Topic-level and id-safe text: HA node and object ids allow [a-zA-Z0-9_-]. */
export const haId = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '_');

export interface GatewayIds {
  gatewayId: string;
  version: string;
  /** The gateway's retained online/offline (upstream.status_topic, its LWT). */
  statusTopic: string;
}

const origin = (g: GatewayIds) => ({ name: 'fieldgate', sw_version: g.version });
export const gatewayDeviceId = (g: Pick<GatewayIds, 'gatewayId'>) => `fieldgate_${haId(g.gatewayId)}`;

/** The gateway itself as a device with one connectivity entity: the parent every sensor names in via_device. */
export function gatewayEntity(
  prefix: string,
  g: GatewayIds,
): { topic: string; config: Record<string, unknown> } {
  const node = haId(g.gatewayId);
  return {
    topic: `${prefix}/binary_sensor/${node}/connectivity/config`,
    config: {
      name: 'Connectivity',
      unique_id: `${gatewayDeviceId(g)}_connectivity`,
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      state_topic: g.statusTopic,
      payload_on: 'online',
      payload_off: 'offline',
      device: {
        identifiers: [gatewayDeviceId(g)],
        name: `fieldgate ${g.gatewayId}`,
        manufacturer: 'fieldgate',
        model: 'field gateway',
        sw_version: g.version,
      },
      origin: origin(g),
    },
  };
}

export interface Measurement {
  /** Adapter instance, e.g. serial:weather. */
  source: string;
  device: string;
  field: string;
  meta: HaEntity;
  /** The topic fieldgate really publishes the value to (after rules). */
  stateTopic: string;
  /** How HA reads the value from the payload. */
  valueTemplate: string;
  /** The device's availability topic; undefined when availability is off. */
  availabilityTopic?: string;
  /** A binary_sensor's state payload when true / false (default 1 / 0). */
  binary?: { on: string; off: string };
}

/** `{prefix}/{component}/{node}/{object}/config` and its retained JSON (HA MQTT discovery). */
export function measurementEntity(
  prefix: string,
  g: GatewayIds,
  m: Measurement,
): { topic: string; config: Record<string, unknown> } {
  const deviceUid = `${gatewayDeviceId(g)}_${haId(m.device)}`;
  const object = haId(`${m.device}_${m.field}`);
  const { meta } = m;
  return {
    topic: `${prefix}/${meta.component}/${haId(g.gatewayId)}/${object}/config`,
    config: {
      name: meta.name ?? m.field,
      unique_id: `${deviceUid}_${haId(m.field)}`,
      state_topic: m.stateTopic,
      value_template: m.valueTemplate,
      ...(meta.device_class && { device_class: meta.device_class }),
      ...(meta.unit && { unit_of_measurement: meta.unit }),
      ...(meta.state_class && { state_class: meta.state_class }),
      ...(meta.icon && { icon: meta.icon }),
      ...(meta.component === 'binary_sensor' && {
        payload_on: m.binary?.on ?? '1',
        payload_off: m.binary?.off ?? '0',
      }),
      device: {
        identifiers: [deviceUid],
        name: m.device,
        model: `${m.source} device`,
        via_device: gatewayDeviceId(g),
      },
      // Unavailable when the gateway is offline (its LWT) or the device is: both must say online.
      availability: [
        { topic: g.statusTopic, payload_available: 'online', payload_not_available: 'offline' },
        ...(m.availabilityTopic
          ? [{ topic: m.availabilityTopic, payload_available: 'online', payload_not_available: 'offline' }]
          : []),
      ],
      availability_mode: 'all',
      origin: origin(g),
    },
  };
}
