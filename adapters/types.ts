import type { Observable } from 'rxjs';

/** Upstream QoS. MQTT-SN QoS -1 readings arrive as 0. */
export type QoS = 0 | 1 | 2;

/**
 * What the store did with a reading, reported back to the adapter so it can
 * acknowledge its device (delivery contract 1: ack only after commit).
 */
export type StoreOutcome =
  | 'stored' // every message the rules produced is committed to the outbox
  | 'filtered' // rules produced nothing to store; safe to ack
  | 'congestion' // outbox full with overflow: reject-new; answer "congestion"
  | 'refused' // nothing stored: the topic is invalid or the gateway's own (loop guard); a resend would be refused too
  | 'error'; // the store failed; do not ack

/** One unit of sensor data entering the gateway from an adapter. */
export interface Reading {
  /** Adapter instance, e.g. "serial:weather" or "mqttsn". */
  source: string;
  /** Device id: serial port name / id from the frame, or MQTT-SN client id. */
  device: string;
  /** Topic as the device (or the serial port's topic template) named it. */
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Waiting-clock ms (contracts/clock.ts: never steps; wallOf() shows it), when the bytes arrived. */
  receivedAt: number;
  /** Decoded payload fields when the adapter parsed them (serial kv/json/csv), for rules. */
  fields?: Record<string, unknown>;
  /**
   * Called exactly once by the gateway when the reading's fate is durable.
   * Adapters that ack their devices (MQTT-SN QoS 1/2, acked serial frames) set it.
   */
  settle?: (outcome: StoreOutcome) => void;
  /**
   * Durable state written in the same transaction as the reading's messages: lets an adapter
   * recognise a resend of an already stored message after a crash (MQTT-SN QoS 2 msg ids).
   */
  remember?: { namespace: string; key: string; value: unknown };
}

/** A command travelling down to a device. */
export interface Command {
  /** Stable id (inbox row id or generated), for acks/results and dedupe. */
  id: string;
  /** Adapter instance, e.g. "serial:weather" or "mqttsn". */
  target: string;
  /** Device id within the adapter (MQTT-SN client id; serial: port name or frame device id). */
  device: string;
  /** Topic the command is addressed to (MQTT-SN devices receive it on this topic). */
  topic: string;
  payload: Buffer;
  qos: QoS;
  /** Waiting-clock ms after which the command is dropped (and counted) instead of delivered. */
  expiresAt?: number;
  /** Opaque to adapters: stored with the command when it waits in the inbox (InboxPut.meta). */
  meta?: Record<string, unknown>;
}

/** A device's answer to a command, or its absence (serial reply_pattern): reported on the result topic. */
export interface CommandReply {
  commandId: string;
  device: string;
  status: 'ok' | 'timeout';
  /** The reply frame as text (trimmed). */
  reply?: string;
  /** Named groups of reply_pattern, e.g. (?<value>\d+). */
  groups?: Record<string, string>;
}

/**
 * send() rejects with this for a command whose expiresAt has passed: the gateway reports it as
 * 'expired' (any other rejection is 'rejected'); neither is retried.
 */
export class CommandExpiredError extends Error {
  override readonly name = 'CommandExpiredError';
}

export type SendOutcome =
  | 'delivered' // written to the device (and acked where the protocol acks)
  | 'queued' // device asleep/unplugged: the command waits in the durable inbox
  | 'unknown-device';

/** An adapter turns bytes into Readings and Commands into bytes. It knows nothing of the broker. */
export interface Adapter {
  /** Instance name, used as Reading.source and Command.target. */
  readonly name: string;
  /** Hot stream of readings; errors are the adapter's to recover from (the gateway also isolates them). */
  readonly readings$: Observable<Reading>;
  /** Opens ports / binds sockets. The constructor does nothing. */
  start(): Promise<void>;
  /** Closes everything; resolves when no more readings will be emitted. */
  stop(): Promise<void>;
  send(command: Command): Promise<SendOutcome>;
  /**
   * How many of its devices could send a reading whose ack waits on the store, now. Once that many
   * readings wait, the store commits at once instead of waiting out its commit window. Absent: 0.
   */
  senders?(): number;
}

/** A message from the upstream broker, handed down to an adapter whose devices subscribed to it. */
export interface DownlinkMessage {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
}

/**
 * An adapter whose devices subscribe to upstream topics (MQTT-SN SUBSCRIBE).
 * The gateway keeps the upstream client subscribed to the union of every
 * adapter's filters and hands matching messages to `deliver`.
 */
export interface SubscribingAdapter extends Adapter {
  /** Current upstream topic filters (MQTT syntax) wanted by this adapter's devices, with max QoS. */
  readonly subscriptions$: Observable<ReadonlyMap<string, QoS>>;
  /** Route one upstream message to every device subscribed to a matching filter (durable inbox for sleepers). */
  deliver(message: DownlinkMessage): Promise<void>;
}

export function isSubscribing(a: Adapter): a is SubscribingAdapter {
  return 'subscriptions$' in a && 'deliver' in a;
}

/** A device's availability as its adapter sees it (retained availability topics, the status page). */
export type DeviceState = 'online' | 'offline' | 'asleep' | 'lost';

export interface DeviceEvent {
  /** Adapter instance (Reading.source), e.g. "mqttsn", "serial:weather", "modbus:rs485a". */
  source: string;
  /** Same id as Reading.device. */
  device: string;
  state: DeviceState;
  /** Waiting-clock ms. */
  at: number;
  /**
   * A device nobody configured (an MQTT-SN client id not named in the config): shown on the status
   * page, but it gets no retained availability topic (any host could create those by the hundred).
   */
  unlisted?: boolean;
}

/** An adapter that knows when its devices come and go (connect/sleep/lost, port open/closed, poll timeouts). */
export interface DeviceReportingAdapter extends Adapter {
  readonly devices$: Observable<DeviceEvent>;
}
