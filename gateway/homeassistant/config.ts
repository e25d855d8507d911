import { z } from 'zod';

export const homeassistantConfigSchema = z
  .strictObject({
    /** Publish Home Assistant MQTT discovery for measurements with `ha:` metadata; off by default. */
    enabled: z.boolean().default(false),
    /** Discovery prefix (HA's default). */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'expected topic levels of letters, digits, _ or -')
      .default('homeassistant'),
    /** HA's birth topic: "online" there makes the gateway publish every discovery config again. */
    status_topic: z.string().min(1).default('homeassistant/status'),
  })
  .prefault({});
export type HomeAssistantConfig = z.output<typeof homeassistantConfigSchema>;
