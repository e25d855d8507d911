import type { Logger } from 'pino';
import { waitingNow } from '../../contracts/clock.js';
import type { Outbox, OutboxRow } from '../../contracts/store.js';
import {
  ackAction,
  DELIVERED,
  PUBCOMP_FAILED,
  PUBREL_AGAIN,
  REFUSED,
  RELEASE,
  TAKEN_AT_QOS1,
} from './acks.js';
import { BrokerFit } from './broker-fit.js';
import { type BrokerLimits, NO_LIMITS } from './broker-limits.js';
import { Completions } from './completions.js';
import type { Connection } from './connection.js';
import type { Delivered } from './events.js';
import { InFlightWindow, RELEASED, SENT } from './inflight-window.js';
import type { PacketIds } from './packet-ids.js';
import { PoisonProbe } from './poison-probe.js';
import { PublishEncoder } from './publish-packet.js';
import { Qos2Watch } from './qos2-watch.js';
import { RateLimit } from './rate.js';
import { ReadAhead } from './read-ahead.js';
import { publishFailure, reason5, reasonName, reasonWithCode } from './reasons.js';
import { RefusalRetry } from './refusal-retry.js';
import { planResume, ResumeQueue, resendAsNew } from './resume.js';

export type { Delivered } from './events.js';

export interface SenderOptions {
  outbox: Outbox;
  ids: PacketIds;
  /** Max unacknowledged QoS 1/2 PUBLISHes. */
  window: number;
  /** Max QoS 2 PUBLISHes awaiting PUBREC/PUBCOMP, within `window` (brokers discard beyond their limit). */
  maxInflightQos2: number;
  maxRate: number;
  logger: Logger;
  /** Rows acknowledged and completed in one store commit, in the order they were acked. */
  onDelivered: (batch: readonly Delivered[]) => void;
  /** A row was moved out of the outbox because the broker would not take it. */
  onSetAside: (e: { id: number; reason: string }) => void;
  /** The broker answered a PUBLISH with a failure reason that may pass: it is sent again later. */
  onRetry?: (e: { id: number; reason: string }) => void;
  /** A row outlived its expiry before it could be sent: deleted, not sent. */
  onExpired?: (e: { id: number }) => void;
  /** store.max_age in ms: a row's lifetime unless its rule set one (MQTT 5 Message Expiry). */
  maxAgeMs?: number;
  /**
   * A QoS 2 row was delivered at QoS 1: the broker answered its PUBLISH with PUBACK ('puback'), or
   * it went out as QoS 1 because this broker takes no more ('broker_maximum_qos').
   */
  onDowngraded?: (e: { id: number; reason: 'puback' | 'broker_maximum_qos' }) => void;
  /** A QoS 2 row has waited this long for PUBREC/PUBCOMP: logged once (default 60 s). */
  stuckAfterMs?: number;
}

/** Topic aliases per connection at most (a gateway's topics are few; the broker may allow more). */
const MAX_ALIASES = 1024;
/** Rows taken from the outbox but not yet written (mostly QoS 0): bounds memory per pump. */
const MAX_UNWRITTEN = 1024;
/** Payload bytes encoded into one Buffer at most (a single larger row is one Buffer of its own). */
const WRITE_CHUNK = 64 * 1024;
/** How often an idle sender looks for rows written by another process (`queue retry`). */
const RESCAN_MS = 1000;
const STUCK_AFTER_MS = 60_000;

/**
 * The outbox pull loop for one connection at a time. Rows are taken in id order up to the
 * in-flight window. A QoS 2 row's packet id is recorded (markSent) and its PUBLISH written only
 * once that is durable; QoS 0/1 PUBLISHes are written at once and their rows stay 'queued' (after a
 * restart they are resent as new, which QoS 1 allows). Rows are completed in batches when
 * acknowledged. After a (re)connect the QoS 2 rows left in flight are resent with the same packet
 * ids, in id order together with the queued rows older than them, before new rows are pulled.
 * When the broker kept no session, nothing is in flight: those rows are sent again as new PUBLISHes.
 *
 * QoS 2 rows have a window of their own (maxInflightQos2). While it is full, a QoS 2 row waits, and
 * so do the later rows of its device (per device order); other devices' QoS 0/1 rows go past it: a
 * broker that never answers one QoS 2 PUBLISH holds back only that device. A row the broker drops
 * the connection on is found by the PoisonProbe and set aside.
 *
 * Its parts, each in a file of its own: the rows read ahead (read-ahead.ts), the rows resent after
 * a reconnect (resume.ts), what an ack means (acks.ts), the broker's per-row limits
 * (broker-fit.ts). The QoS 2 write order (send, writeLater) stays here, with the writes.
 */
export class Sender {
  private conn: Connection | null = null;
  /** Generation of the attached connection: async continuations of an old one do nothing. */
  private gen = 0;
  private readonly window = new InFlightWindow();
  /** Rows left in flight before a reconnect (broker session kept), written as the windows allow. */
  private readonly resume = new ResumeQueue();
  private readonly probe = new PoisonProbe();
  private rescanTimer: NodeJS.Timeout | undefined;
  /** Rows read from the outbox ahead of the window, and where to read on. */
  private readonly ahead: ReadAhead;
  private unwritten = 0;
  private resending = false;
  /** Set by stop(): acks are still processed, but no new rows are taken. */
  private paused = false;
  private readonly pending = new Set<Promise<unknown>>();
  private writeChain: Promise<void> = Promise.resolve();
  /** Batches on writeChain not yet written (waiting for their markSent commit). */
  private waiting = 0;
  private rateTimer: NodeJS.Timeout | undefined;
  /** Next pass-scan while the QoS 2 window stays full (ReadAhead.scanInMs). */
  private passTimer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  private pumpTimer: NodeJS.Immediate | undefined;
  private readonly rate: RateLimit;
  /** What this connection's broker announced in CONNACK, applied per row. */
  private readonly broker = new BrokerFit();
  private encoder: PublishEncoder;
  private readonly retry = new RefusalRetry(() => this.pump());

  private readonly completions: Completions;
  /** QoS 2 rows in flight and how long they have waited (a stuck one is reported). */
  private readonly q2Watch: Qos2Watch;

  constructor(private readonly o: SenderOptions) {
    this.completions = new Completions({
      outbox: o.outbox,
      onDelivered: o.onDelivered,
      logger: o.logger,
      pending: this.pending,
    });
    this.rate = new RateLimit(o.maxRate);
    this.q2Watch = new Qos2Watch(o.logger, o.stuckAfterMs ?? STUCK_AFTER_MS);
    this.encoder = new PublishEncoder(4, 0, 0);
    this.ahead = new ReadAhead(o.outbox);
  }

  /** The in-flight window: ours, capped by the broker's Receive Maximum (QoS 1 and 2 together). */
  private get windowSize(): number {
    return Math.min(this.o.window, this.broker.limits.receiveMaximum);
  }

  get inflight(): number {
    return this.window.size;
  }

  /**
   * QoS 2 rows awaiting PUBREC/PUBCOMP on this connection, and how long the oldest has waited:
   * a broker that never answers one holds a slot of the QoS 2 window for as long as the connection
   * lasts (MQTT allows no resend on a live connection).
   */
  qos2Waiting(now = waitingNow()): { count: number; oldestMs: number } {
    return this.q2Watch.waiting(now);
  }

  /** From now on QoS 2 rows go to this broker as QoS 1 (it answered one with PUBACK). */
  capQos(max: 0 | 1): void {
    this.broker.capQos(max);
  }

  /** Sending one row at a time since a connection dropped with no ack (the uplink flaps). */
  get isProbing(): boolean {
    return this.probe.probing;
  }

  /**
   * Start sending on a fresh connection: settle earlier store writes, resend in-flight rows, then
   * pull. Resolves with the number of rows found in flight.
   */
  async attach(
    conn: Connection,
    sessionPresent: boolean,
    protocol: 4 | 5 = 4,
    limits: BrokerLimits = NO_LIMITS,
  ): Promise<number> {
    const gen = ++this.gen;
    this.conn = conn;
    this.broker.attach(limits, this.o.logger);
    const aliases = Math.min(limits.topicAliasMaximum, MAX_ALIASES);
    this.encoder = new PublishEncoder(protocol, protocol === 5 ? (this.o.maxAgeMs ?? 0) : 0, aliases);
    this.clearWindow();
    this.resending = true;
    this.paused = false;
    this.probe.attached();
    this.completions.flush();
    await this.settle();
    if (gen !== this.gen) return 0;
    // Settled: the store's view of what is in flight is now complete and final.
    const resumed = this.o.outbox.inflight().filter((r) => r.packetId !== null);
    clearInterval(this.rescanTimer);
    this.rescanTimer = setInterval(() => this.rescan(), RESCAN_MS);
    this.rescanTimer.unref();
    if (!sessionPresent) return this.restartAll(resumed);
    const plan = planResume(this.o.outbox, this.o.ids, resumed);
    if (plan.fresh2.length > 0) {
      try {
        await this.track(this.o.outbox.markSent(plan.fresh2));
      } catch (err) {
        if (gen === this.gen) this.storeFailed('markSent', err);
        return 0;
      }
      if (gen !== this.gen) return 0;
    }
    // Written by pump() as the windows allow (QoS 2 limit, a probe's window of 1), before new rows.
    this.resume.set(plan.order);
    if (plan.order.length > 0) {
      this.o.logger.info(
        { count: plan.resumed, between: plan.between },
        'upstream: resent messages left in flight',
      );
    }
    this.ahead.reset(plan.last, []);
    this.unwritten = 0;
    this.resending = false;
    this.pump();
    return plan.resumed;
  }

  /** The broker kept no session: what was in flight is read ahead and sent as new (resendAsNew). */
  private restartAll(resumed: OutboxRow[]): number {
    this.ahead.reset(resumed.at(-1)?.id ?? 0, resendAsNew(this.o.outbox, resumed));
    this.unwritten = 0;
    this.resume.clear();
    this.resending = false;
    if (resumed.length > 0) {
      this.o.logger.warn(
        { count: resumed.length },
        'upstream: broker kept no session: resending messages left in flight as new',
      );
    }
    this.pump();
    return resumed.length;
  }

  /** Stop taking new rows (graceful stop); what is in flight may still be acknowledged. */
  pause(): void {
    this.paused = true;
  }

  /**
   * The connection is gone: forget the window (rows stay 'sent'/'released' in the store).
   * `fault`: the broker or the network ended it (not our own stop): judge the rows in flight.
   * `suspect`: the packet id of a malformed ack the gateway closed the connection on.
   */
  detach(fault = true, suspect?: number): void {
    if (fault) this.judge();
    else if (suspect !== undefined) this.blame(suspect);
    this.gen++;
    this.conn = null;
    this.clearWindow();
    this.resume.clear();
    // Rows waiting for a retry are read back from the store by the next connection.
    this.retry.reset(); // the client clears all packet ids with the connection
    this.ahead.reread();
    this.waitingDrain = false;
    if (this.rateTimer) clearTimeout(this.rateTimer);
    this.rateTimer = undefined;
    clearTimeout(this.passTimer);
    this.passTimer = undefined;
    clearInterval(this.rescanTimer);
    this.rescanTimer = undefined;
  }

  /** Asks the probe whether this drop convicts the one row in flight; sets it aside if so. */
  private judge(): void {
    const inflight = this.window.list();
    const guilty = this.probe.dropped(inflight, () =>
      this.o.logger.warn(
        { inflight: inflight.length },
        'upstream: connection lost with no ack for anything in flight: resending one message at a time',
      ),
    );
    const row = inflight.find((r) => r.id === guilty);
    if (row) this.setAside(row, 'broker_disconnect');
  }

  /** A malformed ack named this packet id: a strike against its row (set aside on the last). */
  private blame(packetId: number): void {
    const row = this.window.get(packetId);
    if (row && this.probe.blame(row.id))
      this.setAside(row, 'malformed_ack', 'the broker answered it with a malformed ack repeatedly');
  }

  private setAside(row: OutboxRow, reason: string, why?: string): void {
    this.o.logger.error(
      { id: row.id, device: row.device, topic: row.topic, qos: row.qos, reason },
      `upstream: message set aside: ${why ?? 'the broker dropped the connection on it repeatedly'} (see fieldgate queue peek --dead)`,
    );
    this.track(this.o.outbox.setAside(row.id, reason)).then(
      (moved) => {
        if (moved) this.o.onSetAside({ id: row.id, reason });
      },
      (err) => this.o.logger.error({ err, id: row.id }, 'upstream: could not set a message aside'),
    );
  }

  private clearWindow(): void {
    this.window.clear();
    this.q2Watch.clear();
  }

  private hold(packetId: number, row: OutboxRow, state: typeof SENT | typeof RELEASED): void {
    this.window.set(packetId, row, state);
    if (row.qos === 2) this.q2Watch.sent(packetId);
    this.probe.sent();
  }

  /** Takes a row out of the window (acked, refused). */
  private unhold(packetId: number): void {
    this.window.delete(packetId);
    this.q2Watch.done(packetId);
  }

  /** Whether one more row of this QoS fits the windows now. */
  private room(row: OutboxRow): boolean {
    if (row.qos === 0) return true;
    if (this.window.size >= this.probe.window(this.windowSize)) return false;
    return row.qos !== 2 || this.window.qos2 < this.o.maxInflightQos2;
  }

  /** Rows another process put back (`queue retry`) are read once the sender has caught up. */
  private rescan(): void {
    this.q2Watch.check(this.window);
    if (this.ahead.caughtUp) {
      this.ahead.reread();
      this.pump();
    }
  }

  /**
   * PUBACK / PUBREC / PUBCOMP for a packet id, done as ackAction reads it; false when the id is
   * not an outbox row's.
   */
  handleAck(cmd: 'puback' | 'pubrec' | 'pubcomp', packetId: number, reasonCode = 0): boolean {
    const row = this.window.get(packetId);
    if (!row) return false;
    const state = this.window.state(packetId);
    this.probe.acked();
    switch (ackAction(cmd, row.qos, state, reasonCode)) {
      case DELIVERED:
        if (this.broker.wasLowered(row)) this.o.onDowngraded?.({ id: row.id, reason: 'broker_maximum_qos' });
        this.delivered(packetId, row);
        break;
      case RELEASE:
        this.release(packetId, row);
        break;
      case PUBREL_AGAIN:
        this.conn?.write({ cmd: 'pubrel', messageId: packetId });
        break;
      case TAKEN_AT_QOS1:
        // Delivered, at least once. Later QoS 2 rows go to this broker as QoS 1: it would treat
        // them so anyway, and they then need no durable packet id and no place in the QoS 2 window.
        this.o.onDowngraded?.({ id: row.id, reason: 'puback' });
        this.capQos(1);
        this.delivered(packetId, row);
        break;
      case REFUSED:
        this.refused(packetId, row, reasonCode);
        break;
      case PUBCOMP_FAILED:
        // The exchange is over (no resend of a PUBREL answered), and its outcome unknown: kept.
        this.unhold(packetId);
        this.o.ids.release(packetId);
        this.setAside(
          row,
          reasonName(reasonCode),
          `the broker failed its PUBCOMP: ${reasonWithCode(reasonCode)}`,
        );
        this.schedulePump();
        break;
    }
    return true;
  }

  private delivered(packetId: number, row: OutboxRow): void {
    this.unhold(packetId);
    this.o.ids.release(packetId);
    this.schedulePump(); // first: its turn completes the row too (one immediate for both)
    this.completions.add(row, this.pumpTimer !== undefined);
    this.retry.delivered();
    this.probe.delivered();
  }

  /**
   * PUBREC: the row is marked released, then PUBREL goes. A method of its own: closures in
   * handleAck() would make every call allocate a context, though only QoS 2 ever needs them.
   */
  private release(packetId: number, row: OutboxRow): void {
    this.window.release(packetId);
    const gen = this.gen;
    this.track(this.o.outbox.markReleased(row.id)).then(
      () => {
        if (gen === this.gen) this.conn?.write({ cmd: 'pubrel', messageId: packetId });
      },
      (err) => this.storeFailed('markReleased', err),
    );
  }

  /**
   * Not a delivery: the exchange is over (no PUBREL follows a failed PUBREC) and the packet id
   * free. A row that may pass later waits for a backoff and goes again, before newer rows; one
   * that never will is set aside with the reason's name.
   */
  private refused(packetId: number, row: OutboxRow, code: number): void {
    this.unhold(packetId);
    const { action, reason } = publishFailure(code);
    if (action !== 'retry' || row.qos !== 2) this.o.ids.release(packetId);
    if (action === 'set-aside') {
      this.setAside(row, reason, `the broker refused it: ${reasonWithCode(code)}`);
      this.schedulePump();
      return;
    }
    this.o.onRetry?.({ id: row.id, reason });
    if (this.retry.empty) {
      this.o.logger.warn(
        { id: row.id, topic: row.topic, reason, retryInMs: this.retry.nextDelayMs },
        `upstream: broker refused a message for now (${reason5(code)}): sending it again later`,
      );
    }
    this.retry.add(row, row.qos === 2 ? packetId : undefined);
  }

  /** Rows just committed to the outbox, in id order: hold them if they follow what we hold, then pump. */
  offer(rows: readonly OutboxRow[]): void {
    if (this.conn) this.ahead.offer(rows);
    this.pump();
  }

  /** Wake up: rows were added, a window slot freed, or the socket drained. */
  pump(): void {
    const conn = this.conn;
    if (!conn || this.resending || this.paused) return;
    if (this.resume.pending && !this.writeResumed(conn)) return;
    // Backing off after a refusal: nothing new goes out (the broker said it is over quota). Then
    // the refused rows go first, in id order with what was read ahead.
    const due = this.retry.take();
    if (due === 'wait') return;
    if (due.length > 0) this.ahead.requeue(due);
    while (this.unwritten < MAX_UNWRITTEN) {
      if (!conn.writable) {
        if (!this.waitingDrain && conn.open) {
          this.waitingDrain = true;
          conn.onDrain(this.drained);
        }
        return;
      }
      let free = Math.min(
        this.probe.window(this.windowSize) - this.window.size,
        65535 - this.o.ids.size,
        MAX_UNWRITTEN - this.unwritten,
      );
      const allowed = this.rate.available();
      if (allowed < 1) {
        this.rateTimer ??= setTimeout(this.rateTurn, this.rate.waitMs());
        return;
      }
      free = Math.min(free, allowed);
      if (free <= 0) return;
      this.ahead.fill(free);
      if (this.ahead.size === 0) return;
      // A QoS 2 row while the QoS 2 window is full waits (not sent as QoS 2: see BrokerFit.fit).
      const rows = this.ahead.take(
        free,
        this.broker.limits.maximumQoS === 2,
        this.window.qos2,
        this.o.maxInflightQos2,
      );
      if (this.ahead.scanInMs >= 0) this.passTimer ??= setTimeout(this.passTurn, this.ahead.scanInMs);
      if (rows.length === 0) return;
      this.rate.take(rows.length);
      this.send(conn, rows);
    }
  }

  /**
   * Write rows resumed after a reconnect, in id order, as far as the windows allow.
   * True when all are written (new rows may follow).
   */
  private writeResumed(conn: Connection): boolean {
    conn.batch(() => {
      while (this.resume.pending && conn.open) {
        const { row, packetId } = this.resume.peek();
        if (!this.room(row)) break;
        this.resume.advance();
        if (row.state === 'queued') {
          if (row.qos > 0) this.hold(packetId, row, SENT);
          conn.write(this.encoder.packet(row, packetId, false));
          if (row.qos === 0) this.completions.add(row, this.pumpTimer !== undefined);
          continue;
        }
        const state = row.state === 'released' ? RELEASED : SENT;
        this.hold(packetId, row, state);
        if (state === RELEASED) conn.write({ cmd: 'pubrel', messageId: packetId });
        else conn.write(this.encoder.packet(row, packetId, true));
      }
    });
    if (this.resume.pending) return false;
    this.resume.clear();
    return true;
  }

  /** Acks arrive many per socket read: refill the window once per turn, in one batch. */
  schedulePump(): void {
    this.pumpTimer ??= setImmediate(this.pumpTurn);
  }

  /** The immediates' callbacks, made once: a closure per event-loop turn is garbage per turn. */
  private readonly pumpTurn = (): void => {
    this.pumpTimer = undefined;
    this.completions.flush();
    this.pump();
  };
  // No arrow inside pump(): one there makes every call allocate a context for `this`.
  private readonly drained = (): void => {
    this.waitingDrain = false;
    this.pump();
  };
  private readonly passTurn = (): void => {
    this.passTimer = undefined;
    this.pump();
  };
  private readonly rateTurn = (): void => {
    this.rateTimer = undefined;
    this.pump();
  };

  /** Wait until every store write this sender started has settled (bounded by the caller). */
  async settle(): Promise<void> {
    this.completions.flush();
    this.o.outbox.flushCompletions?.(); // deletes wait for the next commit: not this long
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /**
   * Rows and their packet ids go as two parallel arrays, not an object per row; `all` itself is
   * kept when every row goes out unchanged (the usual case).
   */
  private send(conn: Connection, all: OutboxRow[]): void {
    const now = this.encoder.time();
    let assignments: { id: number; packetId: number }[] | undefined;
    let rows: OutboxRow[] | undefined; // a copy only once a row is dropped or changed
    const ids: number[] = [];
    let held = false;
    for (let i = 0; i < all.length; i++) {
      const r = all[i]!;
      const row = this.broker.fit(r);
      const kept = this.retry.keptId(row.id);
      if (!this.sendable(row, now)) {
        if (kept !== undefined) this.o.ids.release(kept);
        rows ??= all.slice(0, i);
        continue;
      }
      if (row !== r) rows ??= all.slice(0, i);
      let packetId = 0;
      if (row.qos > 0) {
        packetId = kept ?? this.o.ids.take()!; // pump() never takes more rows than free ids
        this.window.set(packetId, row, SENT);
        held = true;
        if (row.qos === 2) {
          this.q2Watch.sent(packetId);
          assignments ??= [];
          assignments.push({ id: row.id, packetId });
        }
      }
      rows?.push(row);
      ids.push(packetId);
    }
    const out = rows ?? all;
    if (out.length === 0) return;
    if (held) this.probe.sent(); // once per batch, not per row (hold()): the same instant for all
    // Only QoS 2 must have its packet id durable before the PUBLISH leaves (the broker holds the
    // id until PUBREL). QoS 0/1 go now unless an earlier batch still waits: id order holds.
    if (assignments === undefined && this.waiting === 0) this.write(conn, out, ids);
    else this.writeLater(conn, out, ids, assignments);
  }

  /** After the batches before it, and once its QoS 2 packet ids are durable. */
  private writeLater(
    conn: Connection,
    out: OutboxRow[],
    ids: number[],
    assignments: { id: number; packetId: number }[] | undefined,
  ): void {
    const gen = this.gen;
    const durable = assignments !== undefined ? this.track(this.o.outbox.markSent(assignments)) : undefined;
    this.waiting++;
    this.unwritten += out.length;
    // Chained so batches are written in id order even if commits resolve out of order.
    this.writeChain = this.writeChain
      .then(() => durable)
      .then(
        () => {
          this.waiting--;
          if (gen !== this.gen) return;
          this.unwritten -= out.length;
          this.write(conn, out, ids);
          this.pump();
        },
        (err) => {
          this.waiting--;
          if (gen === this.gen) this.storeFailed('markSent', err);
        },
      );
  }

  /**
   * False for a row that must not go out: larger than the broker's Maximum Packet Size (set aside,
   * it never will fit this broker) or past its expiry (deleted: nobody wants it any more).
   */
  private sendable(row: OutboxRow, now: number): boolean {
    const size = this.broker.oversize(row, this.encoder);
    if (size > 0) {
      const max = this.broker.limits.maximumPacketSize;
      this.setAside(row, 'packet_too_large', `${size} bytes exceed the broker's maximum packet size ${max}`);
      return false;
    }
    if (this.encoder.expired(row, now)) {
      this.expire(row);
      return false;
    }
    return true;
  }

  /** Out of sendable() (called per row): its closure would cost a context on every call. */
  private expire(row: OutboxRow): void {
    this.o.onExpired?.({ id: row.id });
    this.track(this.o.outbox.complete([row.id])).catch((err) =>
      this.o.logger.error({ err, id: row.id }, 'upstream: could not delete an expired row'),
    );
  }

  /**
   * The batch's PUBLISHes encoded into one Buffer: one socket write per batch, not one per field.
   * The encoder copies payloads: a batch with large ones is encoded in parts of about
   * WRITE_CHUNK bytes (corked: still one syscall), so the copy never holds much more than a row.
   */
  private write(conn: Connection, rows: readonly OutboxRow[], ids: readonly number[]): void {
    let bytes = 0;
    for (const row of rows) bytes += row.payload.length;
    if (bytes <= WRITE_CHUNK) conn.writeBytes(this.encoder.encodeRows(rows, ids, 0, rows.length, false));
    else this.writeChunks(conn, rows, ids);
    for (const row of rows) if (row.qos === 0) this.completions.add(row, this.pumpTimer !== undefined);
  }

  private writeChunks(conn: Connection, rows: readonly OutboxRow[], ids: readonly number[]): void {
    conn.batch(() => {
      for (let from = 0, i = 0, part = 0; i < rows.length; i++) {
        part += rows[i]!.payload.length;
        if (part < WRITE_CHUNK && i < rows.length - 1) continue;
        conn.writeBytes(this.encoder.encodeRows(rows, ids, from, i + 1, false));
        from = i + 1;
        part = 0;
      }
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const done = () => this.pending.delete(p);
    p.then(done, done);
    return p;
  }

  /** A failed store write leaves the window unknown: drop the connection and resync from the store. */
  private storeFailed(what: string, err: unknown): void {
    this.o.logger.error({ err }, `upstream: store ${what} failed; reconnecting to resync`);
    this.conn?.destroy(`store ${what} failed`); // a close of ours: no strike against the rows
  }
}
