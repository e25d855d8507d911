import { Subject } from 'rxjs';
import type { DeviceEvent, DeviceState } from '../types.js';
import type { PortState } from './port.js';

/** Bound on devices remembered per port (a device_field full of noise must not grow it forever). */
const MAX_DEVICES = 1000;

/**
 * Device availability on one serial port: the port name is a device that is online while the port is
 * open; every device id read from frames is online from its first reading until the port closes
 * (offline) or it stays silent longer than `silence_timeout` (lost). Pure apart from the clock passed in.
 */
export class SerialPresence {
  readonly events$ = new Subject<DeviceEvent>();
  /** device -> [state, last seen]; Map order is insertion order (oldest forgotten first). */
  private readonly devices = new Map<string, { state: DeviceState; seen: number }>();
  private portOpen = false;

  constructor(
    private readonly source: string,
    private readonly portName: string,
    private readonly silenceMs: number | undefined,
  ) {}

  port(state: PortState, now: number): void {
    const open = state === 'open';
    if (open === this.portOpen) return;
    this.portOpen = open;
    if (open) this.set(this.portName, 'online', now);
    else for (const id of this.devices.keys()) this.set(id, 'offline', now);
  }

  /** A reading from `device` arrived. */
  seen(device: string, now: number): void {
    const d = this.devices.get(device);
    if (d?.state === 'online') d.seen = now;
    else this.set(device, 'online', now);
    if (device !== this.portName) {
      const port = this.devices.get(this.portName);
      if (port?.state === 'online') port.seen = now; // the port is not silent while any device talks
    }
  }

  /** Marks devices silent longer than silence_timeout as lost; call periodically. */
  sweep(now: number): void {
    if (this.silenceMs === undefined) return;
    for (const [id, d] of this.devices)
      if (d.state === 'online' && now - d.seen > this.silenceMs) this.set(id, 'lost', now);
  }

  stop(): void {
    this.events$.complete();
  }

  private set(device: string, state: DeviceState, now: number): void {
    const d = this.devices.get(device);
    if (d?.state === state) return;
    this.devices.delete(device);
    this.devices.set(device, { state, seen: now });
    if (this.devices.size > MAX_DEVICES) this.devices.delete(this.devices.keys().next().value!);
    this.events$.next({ source: this.source, device, state, at: now });
  }
}
