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

/**
 * Size of a plain ack (reason 0, no properties) starting at `i`, whole in `chunk`; 0 if it is not
 * one. MQTT 5 may spell success as remaining length 2, or 3 / 4 with reason 0 and empty properties.
 */
function plainAckSize(chunk: Buffer, i: number, v5: boolean): number {
  const b0 = chunk[i]!;
  if (i + 4 > chunk.length || (b0 & 0x0f) !== 0 || ACKS[b0 >> 4] === undefined) return 0;
  const len = chunk[i + 1]!;
  if (len === 2) return 4;
  if (!v5) return 0;
  if (len === 3 && i + 5 <= chunk.length && chunk[i + 4] === 0) return 5;
  if (len === 4 && i + 6 <= chunk.length && chunk[i + 4] === 0 && chunk[i + 5] === 0) return 6;
  return 0;
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

  constructor(
    private readonly maxBytes: number,
    private readonly pass: (bytes: Buffer) => void,
    private readonly oversize: (o: Oversize) => void,
    private readonly malformed: (why: string) => void,
    /**
     * Fast path for the commonest packets, PUBACK/PUBREC/PUBCOMP with reason 0 and no properties
     * (one per message sent): decoded here, never handed to mqtt-packet's parser, which buffers
     * and builds a packet object for each. Anything else goes through the parser.
     */
    private readonly ack?: (cmd: AckCmd, messageId: number) => void,
    private readonly v5 = false,
  ) {}

  push(chunk: Buffer): void {
    let i = 0;
    /** Start of this chunk's bytes still to pass on; -1 while skipping. */
    let run = this.skipping ? -1 : 0;
    let hdrStart = 0;
    while (i < chunk.length) {
      if (this.body > 0) {
        const n = Math.min(this.body, chunk.length - i);
        if (this.skipping) this.capture(chunk.subarray(i, i + n));
        i += n;
        this.body -= n;
        if (this.body === 0 && this.skipping) {
          this.endSkip();
          run = i;
        }
        continue;
      }
      if (this.hdrLen === 0) {
        const n = this.ack && run >= 0 ? plainAckSize(chunk, i, this.v5) : 0;
        if (n > 0 && n <= this.maxBytes) {
          // What came before goes to the parser first: packets keep their order.
          if (i > run) this.pass(chunk.subarray(run, i));
          this.ack!(ACKS[chunk[i]! >> 4]!, (chunk[i + 2]! << 8) | chunk[i + 3]!);
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
          this.malformed('remaining length longer than 4 bytes');
          return;
        }
        continue;
      }
      let remaining = 0;
      for (let k = this.hdrLen - 1; k >= 1; k--) remaining = remaining * 128 + (this.hdr[k]! & 0x7f);
      const size = this.hdrLen + remaining;
      if (size > this.maxBytes) {
        if (run >= 0 && hdrStart > run) this.pass(chunk.subarray(run, hdrStart));
        run = -1;
        this.startSkip(size, remaining);
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
