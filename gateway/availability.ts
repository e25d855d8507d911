import { merge, type Observable, type Subscription } from 'rxjs';
import { z } from 'zod';
import type { Adapter, DeviceEvent, DeviceReportingAdapter, DeviceState } from '../adapters/types.js';
import type { Outbox } from '../contracts/store.js';
import { throttledLog } from '../contracts/throttled-log.js';
import type { Logger } from './log.js';

export const availabilityConfigSchema = z
  .strictObject({
    /** Retained online/offline/asleep per device; on by default. */
    enabled: z.boolean().default(true),
    /** Template over {gateway} and {device}; must keep {device} (one topic per device). */
    topic: z
      .string()
      .refine((t) => t.includes('{device}'), 'the topic needs {device}: one availability topic per device')
      .refine((t) => !/[+#]/.test(t), 'a topic to publish to cannot contain + or #')
      .default('fieldgate/{gateway}/devices/{device}/availability'),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
  })
  .prefault({});
export type AvailabilityConfig = z.output<typeof availabilityConfigSchema>;

/** lost is published as offline: a subscriber (Home Assistant) knows online/offline (and asleep). */
export type AvailabilityPayload = 'online' | 'offline' | 'asleep';
export const availabilityPayload = (s: DeviceState): AvailabilityPayload => (s === 'lost' ? 'offline' : s);

/** The availability topic of one device, or undefined when the id cannot be one topic level. */
export function availabilityTopic(template: string, gatewayId: string, device: string): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is not allowed in a topic
  if (!device || /[/+#\u0000]/.test(device)) return undefined;
  return template.replaceAll('{gateway}', gatewayId).replaceAll('{device}', device);
}

export const reportsDevices = (a: Adapter): a is DeviceReportingAdapter =>
  'devices$' in a && typeof (a as { devices$?: unknown }).devices$ === 'object';

/** Every device event of every adapter that reports them (duck-typed: serial, MQTT-SN, Modbus, …). */
export function deviceEvents(adapters: Iterable<Adapter>): Observable<DeviceEvent> {
  return merge(...[...adapters].filter(reportsDevices).map((a) => a.devices$));
}

/**
 * Publishes each device's availability, retained, through the outbox (it survives an outage and
 * keeps its order with the device's readings). The gateway's own messages: they are enqueued
 * directly, not through ingest, so the loop guard that keeps devices off these topics does not
 * refuse them. Only changes are published (lost -> offline after offline is not repeated).
 */
export class AvailabilityPublisher {
  private readonly last = new Map<string, AvailabilityPayload>();
  private sub: Subscription | undefined;
  private readonly warn: ReturnType<typeof throttledLog>;

  constructor(
    private readonly opts: {
      config: AvailabilityConfig;
      gatewayId: string;
      outbox: Pick<Outbox, 'enqueue'>;
      logger: Logger;
      /** A device whose id cannot be a topic level, or a failed enqueue: counted. */
      onDropped: (source: string, reason: string) => void;
    },
  ) {
    this.warn = throttledLog(opts.logger);
  }

  start(events$: Observable<DeviceEvent>): void {
    if (!this.opts.config.enabled) return;
    this.sub = events$.subscribe((e) => this.publish(e));
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  private publish(e: DeviceEvent): void {
    if (e.unlisted) return; // only configured devices: a retained topic per invented id would pile up
    const { config, gatewayId, outbox, onDropped } = this.opts;
    const topic = availabilityTopic(config.topic, gatewayId, e.device);
    if (!topic) {
      onDropped(e.source, 'availability_bad_device_id');
      this.warn(
        'bad-id',
        { source: e.source, device: e.device },
        'device id cannot be an availability topic level',
      );
      return;
    }
    const payload = availabilityPayload(e.state);
    if (this.last.get(topic) === payload) return;
    this.last.set(topic, payload);
    if (this.last.size > 10_000) this.last.delete(this.last.keys().next().value!);
    outbox
      .enqueue([
        {
          source: 'gateway',
          device: e.device,
          topic,
          payload: Buffer.from(payload),
          qos: config.qos,
          retain: true,
          receivedAt: e.at,
        },
      ])
      .catch((err) => {
        this.last.delete(topic); // publish the next change even if it repeats this one
        onDropped(e.source, 'availability_not_stored');
        this.warn('store', { err, topic }, 'availability message not stored');
      });
  }
}
