import { z } from 'zod';

/**
 * Home Assistant metadata for one measurement (serial `ha:` per field): what the entity is. Used only
 * when `homeassistant.enabled`; see gateway/homeassistant/.
 */
export const haEntitySchema = z.strictObject({
  component: z.enum(['sensor', 'binary_sensor']).default('sensor'),
  /** e.g. temperature, humidity, pressure, battery, voltage (HA device classes). */
  device_class: z
    .string()
    .regex(/^[a-z_]+$/, 'expected a Home Assistant device class like temperature')
    .optional(),
  /** unit_of_measurement, e.g. °C, %, hPa. */
  unit: z.string().min(1).optional(),
  state_class: z.enum(['measurement', 'total', 'total_increasing']).optional(),
  /** Entity name shown in HA; default the field name. */
  name: z.string().min(1).optional(),
  icon: z
    .string()
    .regex(/^mdi:[a-z0-9-]+$/, 'expected mdi:<icon-name>')
    .optional(),
});
export type HaEntity = z.output<typeof haEntitySchema>;

/** `ha:` on a serial port: field name -> entity metadata. */
export const haFieldsSchema = z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), haEntitySchema);
