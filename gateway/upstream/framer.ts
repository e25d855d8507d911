/** What an oversize packet was, as far as its first bytes tell (never buffered whole). */
export interface Oversize {
  /** MQTT control packet type (3 = PUBLISH). */
  type: number;
  /** Whole packet size in bytes (fixed header included). */
  bytes: number;
  /** PUBLISH only: enough to acknowledge it (topic at most 64 KiB is read). */
  publish?: { topic: string; qos: 0 | 1 | 2; messageId: number | undefined };
}

const PUBLISH = 3;
const EMPTY = Buffer.alloc(0);

export type AckCmd = 'puback' | 'pubrec' | 'pubcomp';

/** By the ack's fixed header byte >> 4 (flags must be 0): PUBACK 4, PUBREC 5, PUBCOMP 7. */
const ACKS: readonly (AckCmd | undefined)[] = [
  undefined,
  undefined,
  undefined,
  undefined,
  'puback',
  'pubrec',
  undefined,
  'pubcomp',
];

/** What the framer decoded of an ack: its packet id and reason code (0 when absent). */
export type AckHandler = (cmd: AckCmd, messageId: number, reasonCode: number) => void;

/** Why an ack is malformed, with the packet id when it could be read (the row it answered). */
export type MalformedHandler = (why: string, packetId?: number) => void;

/** The ack type of a first byte, or undefined (flags must be 0). */
function ackType(b0: number): AckCmd | undefined {
  return (b0 & 0x0f) === 0 ? ACKS[b0 >> 4] : undefined;
}

/**
 * An ack's variable header (`body`): packet id, then (MQTT 5) a reason code and a property list.
 * Any reason code is passed on: judging it is the sender's job (mqtt-packet throws on codes outside
 * the spec's list, e.g. mosquitto's 0x95 on a PUBACK, and a throw there dropped the connection).
 * The properties (reason string, user properties) are checked for length and not read.
 */
function decodeAck(
  cmd: AckCmd,
  buf: Uint8Array,
  start: number,
  end: number,
  v5: boolean,
  ack: AckHandler,
  malformed: MalformedHandler,
): void {
  const len = end - start;
  if (len < 2) {
    malformed(`${cmd} of ${len} bytes has no packet id`);
    return;
  }
  const id = (buf[start]! << 8) | buf[start + 1]!;
  if (id === 0) {
    malformed(`${cmd} with packet id 0`);
    return;
  }
  // MQTT 3.1.1 acks are exactly 2 bytes; extra bytes are ignored there, as mqtt-packet did.
  if (len === 2 || !v5) {
    ack(cmd, id, 0);
    return;
  }
  const reason = buf[start + 2]!;
  if (len > 3) {
    let props = 0;
    let k = start + 3;
    for (let shift = 0; ; shift += 7) {
      if (k >= end || shift > 21) {
        malformed(`${cmd} with a bad property length`, id);
        return;
      }
      const b = buf[k++]!;
      props += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
    }
    if (k + props !== end) {
      malformed(`${cmd} property length ${props} does not match its ${end - k} bytes`, id);
      return;
    }
  }
  ack(cmd, id, reason);
}

/**
 * Sits between the socket and mqtt-packet's parser, which buffers a packet whole before it parses
 * it. It reads only fixed headers (type, remaining length) and passes the bytes through unchanged;
 * a packet larger than `maxBytes` is skipped as it streams by (at most a PUBLISH's topic and packet
 * id are kept) and reported once its last byte has passed, so the stream stays in step.
 */
export class PacketFramer {
  /** Bytes of the current packet's body still to pass or skip. */
  private body = 0;
  private skipping: Oversize | undefined;
  /** The skipped packet's first byte (type and PUBLISH flags). */
  private first = 0;
  /** The fixed header being read (1 type byte + at most 4 length bytes). */
  private readonly hdr = new Uint8Array(5);
  private hdrLen = 0;
  /** Header bytes read in an earlier chunk and not passed on yet. */
  private carried = 0;
  /** A skipped PUBLISH's variable header (topic length, topic, packet id) as it arrives. */
  private vh: Buffer[] = [];
  private vhLen = 0;
  private vhNeed = 0;
  /** The ack being gathered across chunks, and its body so far. */
  private gathering: AckCmd | undefined;
  private gathered: Buffer = EMPTY;
  private gatheredLen = 0;
  /** A malformed packet was seen: the rest of the stream is not read. */
  private dead = false;

  constructor(
    private readonly maxBytes: number,
    private readonly pass: (bytes: Buffer) => void,
    private readonly oversize: (o: Oversize) => void,
    private readonly malformed: MalformedHandler,
    /**
     * PUBACK/PUBREC/PUBCOMP (one per message sent) are decoded here, never handed to mqtt-packet's
     * parser, which buffers and builds a packet object for each and throws on reason codes outside
     * the spec. An ack whole in one chunk is read in place; one split across chunks is gathered.
     */
    private readonly ack?: AckHandler,
    private readonly v5 = false,
  ) {}

  push(chunk: Buffer): void {
    if (this.dead) return;
    let i = 0;
    /** Start of this chunk's bytes still to pass on; -1 while skipping or gathering an ack. */
    let run = this.skipping || this.gathering ? -1 : 0;
    let hdrStart = 0;
    while (i < chunk.length) {
      if (this.body > 0) {
        const n = Math.min(this.body, chunk.length - i);
        if (this.skipping) this.capture(chunk.subarray(i, i + n));
        else if (this.gathering) {
          chunk.copy(this.gathered, this.gatheredLen, i, i + n);
          this.gatheredLen += n;
        }
        i += n;
        this.body -= n;
        if (this.body === 0 && this.skipping) {
          this.endSkip();
          run = i;
        } else if (this.body === 0 && this.gathering) {
          if (!this.endGather()) return;
          run = i;
        }
        continue;
      }
      if (this.hdrLen === 0) {
        const n = this.ack && run >= 0 ? this.wholeAck(chunk, i) : 0;
        if (n > 0) {
          // What came before goes to the parser first: packets keep their order.
          if (i > run) this.pass(chunk.subarray(run, i));
          decodeAck(ACKS[chunk[i]! >> 4]!, chunk, i + 2, i + n, this.v5, this.ack!, this.bad);
          if (this.dead) return;
          i += n;
          run = i;
          continue;
        }
        hdrStart = i;
      }
      this.hdr[this.hdrLen++] = chunk[i++]!;
      if (this.hdrLen === 1) continue;
      if (this.hdr[this.hdrLen - 1]! & 0x80) {
        if (this.hdrLen === 5) {
          this.bad('remaining length longer than 4 bytes');
          return;
        }
        continue;
      }
      let remaining = 0;
      for (let k = this.hdrLen - 1; k >= 1; k--) remaining = remaining * 128 + (this.hdr[k]! & 0x7f);
      const size = this.hdrLen + remaining;
      const ack = this.ack ? ackType(this.hdr[0]!) : undefined;
      if (size > this.maxBytes) {
        if (run >= 0 && hdrStart > run) this.pass(chunk.subarray(run, hdrStart));
        run = -1;
        this.startSkip(size, remaining);
      } else if (ack !== undefined) {
        // An ack split across chunks: gathered here (it is small), its header bytes never passed.
        if (run >= 0 && hdrStart > run) this.pass(chunk.subarray(run, hdrStart));
        this.carried = 0;
        this.hdrLen = 0;
        this.gathering = ack;
        this.gathered = Buffer.allocUnsafe(remaining);
        this.gatheredLen = 0;
        this.body = remaining;
        run = -1;
        if (remaining === 0) {
          if (!this.endGather()) return;
          run = i;
        }
        continue;
      } else if (this.carried > 0) {
        // The header began in an earlier chunk: pass those bytes before this chunk's.
        if (run >= 0 && hdrStart > run) this.pass(chunk.subarray(run, hdrStart));
        this.pass(Buffer.from(this.hdr.subarray(0, this.carried)));
        run = hdrStart;
      }
      this.carried = 0;
      this.hdrLen = 0;
      if (!this.skipping) this.body = remaining;
    }
    if (run < 0) return;
    // An incomplete header waits for the next chunk; the bytes before it go on now.
    const end = this.hdrLen > 0 ? (this.carried > 0 ? run : hdrStart) : chunk.length;
    if (end > run) this.pass(chunk.subarray(run, end));
    if (this.hdrLen > 0) this.carried = this.hdrLen;
  }

  /** Size of an ack starting at `i` and whole in `chunk` (one length byte); 0 if it is not one. */
  private wholeAck(chunk: Buffer, i: number): number {
    if (i + 2 > chunk.length || ackType(chunk[i]!) === undefined) return 0;
    const len = chunk[i + 1]!;
    if (len & 0x80 || i + 2 + len > chunk.length || 2 + len > this.maxBytes) return 0;
    return 2 + len;
  }

  /** A gathered ack is complete: decode it. False if it was malformed (the stream stops). */
  private endGather(): boolean {
    const cmd = this.gathering!;
    const body = this.gathered;
    this.gathering = undefined;
    this.gathered = EMPTY;
    decodeAck(cmd, body, 0, this.gatheredLen, this.v5, this.ack!, this.bad);
    return !this.dead;
  }

  /** A malformed packet: reported once, and nothing after it is read (the connection is closed). */
  private readonly bad: MalformedHandler = (why, packetId) => {
    if (this.dead) return;
    this.dead = true;
    this.malformed(why, packetId);
  };

  private startSkip(size: number, remaining: number): void {
    this.first = this.hdr[0]!;
    const type = this.first >> 4;
    this.skipping = { type, bytes: size };
    this.body = remaining;
    this.vh = [];
    this.vhLen = 0;
    // PUBLISH: keep the topic length first; capture() then asks for the topic and packet id.
    this.vhNeed = type === PUBLISH ? 2 : 0;
  }

  private capture(bytes: Buffer): void {
    if (this.vhLen >= this.vhNeed) return;
    const take = bytes.subarray(0, this.vhNeed - this.vhLen);
    this.vh.push(Buffer.from(take));
    this.vhLen += take.length;
    if (this.vhLen === 2 && this.vhNeed === 2) {
      const qos = (this.first >> 1) & 3;
      this.vhNeed = 2 + Buffer.concat(this.vh).readUInt16BE(0) + (qos > 0 ? 2 : 0);
    }
    if (take.length < bytes.length) this.capture(bytes.subarray(take.length));
  }

  private endSkip(): void {
    const o = this.skipping!;
    this.skipping = undefined;
    if (o.type === PUBLISH && this.vhLen >= 2 && this.vhLen === this.vhNeed) {
      const vh = Buffer.concat(this.vh);
      const topicLen = vh.readUInt16BE(0);
      const qos = ((this.first >> 1) & 3) as 0 | 1 | 2;
      o.publish = {
        topic: vh.subarray(2, 2 + topicLen).toString('utf8'),
        qos,
        messageId: qos > 0 ? vh.readUInt16BE(2 + topicLen) : undefined,
      };
    }
    this.vh = [];
    this.oversize(o);
  }
}
