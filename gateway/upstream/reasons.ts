import { clockTrust } from '../../contracts/clock.js';
/** MQTT 3.1.1 CONNACK return codes in words (MQTT 5 reason codes can be added beside them). */
const CONNACK_3_1_1: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

/** MQTT 5 reason codes (CONNACK, PUBACK/PUBREC, DISCONNECT share one table), in words. */
const REASON_5 = new Map<number, string>([
  [0x04, 'disconnect with will message'],
  [0x10, 'no matching subscribers'],
  [0x80, 'unspecified error'],
  [0x81, 'malformed packet'],
  [0x82, 'protocol error'],
  [0x83, 'implementation specific error'],
  [0x84, 'unsupported protocol version'],
  [0x85, 'client identifier not valid'],
  [0x86, 'bad user name or password'],
  [0x87, 'not authorized'],
  [0x88, 'server unavailable'],
  [0x89, 'server busy'],
  [0x8a, 'banned'],
  [0x8b, 'server shutting down'],
  [0x8c, 'bad authentication method'],
  [0x8d, 'keep alive timeout'],
  [0x8e, 'session taken over'],
  [0x90, 'topic name invalid'],
  [0x91, 'packet identifier in use'],
  [0x93, 'receive maximum exceeded'],
  [0x94, 'topic alias invalid'],
  [0x95, 'packet too large'],
  [0x96, 'message rate too high'],
  [0x97, 'quota exceeded'],
  [0x98, 'administrative action'],
  [0x99, 'payload format invalid'],
  [0x9a, 'retain not supported'],
  [0x9b, 'qos not supported'],
  [0x9c, 'use another server'],
  [0x9d, 'server moved'],
  [0x9f, 'connection rate exceeded'],
]);

/** A CONNACK refusal in words; codes >= 0x80 are MQTT 5's, below are 3.1.1 return codes. */
export function connackReason(code: number): string {
  return (code >= 0x80 ? REASON_5.get(code) : CONNACK_3_1_1[code]) ?? `unknown return code ${code}`;
}

/** An MQTT 5 reason code in words (PUBACK, PUBREC, DISCONNECT). */
export function reason5(code: number): string {
  return REASON_5.get(code) ?? `reason code 0x${code.toString(16)}`;
}

/** "packet too large (0x95)": the words and the code the broker sent. */
export function reasonWithCode(code: number): string {
  const words = reason5(code);
  const hex = `0x${code.toString(16)}`;
  return words.includes(hex) ? words : `${words} (${hex})`;
}

/** Refusals that retrying soon will not fix: back off long (see Backoff.long). */
export function isConfigRefusal(code: number): boolean {
  return (
    code === 1 ||
    code === 2 ||
    code === 4 ||
    code === 5 ||
    [0x84, 0x85, 0x86, 0x87, 0x8a, 0x8c].includes(code)
  );
}

/** The broker does not speak the protocol version we asked for: 3.1.1's 1, or MQTT 5's 0x84. */
export function isUnsupportedProtocol(code: number): boolean {
  return code === 1 || code === 0x84;
}

/**
 * Whether an ack's reason code says the message was taken: PUBACK/PUBREC 0x00 success or 0x10 no
 * matching subscribers; PUBCOMP 0x00, or 0x92 packet identifier not found (the broker finished that
 * exchange already, e.g. its PUBCOMP was lost with a connection). Anything else — a failure, or a
 * value the spec does not list for that ack — is not a delivery.
 */
export function ackAccepts(cmd: 'puback' | 'pubrec' | 'pubcomp', code: number): boolean {
  return code === 0 || (cmd === 'pubcomp' ? code === 0x92 : code === 0x10);
}

/**
 * What to do with a row whose PUBACK/PUBREC does not accept it (see ackAccepts):
 * - 'retry': the broker may take it later (0x97 quota, 0x96 rate, 0x89 busy, a passing error):
 *   resend after a backoff (0.5 s doubling to 30 s, reset by the next accepted message).
 *   0x80 unspecified and 0x83 implementation specific are retried: mosquitto and EMQX use them
 *   for transient plugin/storage failures, and a row set aside is lost to the subscriber until an
 *   operator acts, while a retried one costs only bytes (the backoff keeps that small).
 * - 'set-aside': it never will (0x87 not authorized, 0x90 topic name invalid, 0x99 payload format
 *   invalid; 0x95 packet too large, which mosquitto 2.0 sends for message_size_limit although the
 *   spec does not list it for PUBACK; and any other code, known or not, below 0x80 too).
 * Both are counted by reason name (the set-aside reason is the row's reason in `queue peek --dead`).
 */
export function publishFailure(code: number): { action: 'retry' | 'set-aside'; reason: string } {
  const reason = reasonName(code);
  // 0x91 packet identifier in use: a PUBREC says so about our id, not about the message.
  const retry = [0x80, 0x83, 0x89, 0x91, 0x96, 0x97].includes(code);
  return { action: retry ? 'retry' : 'set-aside', reason };
}

/** A reason code as a metric label / set-aside reason: 'not_authorized', 'quota_exceeded'. */
export function reasonName(code: number): string {
  const words = REASON_5.get(code);
  return words ? words.replaceAll(' ', '_') : `reason_0x${code.toString(16)}`;
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
]);

/** A socket/TLS error as one line for the log, and whether it is a certificate problem. */
export function describeError(err: unknown): { reason: string; tls: boolean } {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const tls =
    code !== undefined && (TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.includes('CERT'));
  const msg = e instanceof Error ? e.message : String(err);
  const clock = code === undefined ? undefined : clockHint(code);
  if (clock) return { reason: clock, tls };
  return { reason: tls ? `TLS: ${msg}${code && !msg.includes(code) ? ` (${code})` : ''}` : msg, tls };
}

/**
 * A certificate refused as expired or not yet valid while the wall clock is not synchronized is most
 * likely this machine's clock (a Pi without RTC boots with an old time), not the certificate.
 */
function clockHint(code: string): string | undefined {
  if (code !== 'CERT_NOT_YET_VALID' && code !== 'CERT_HAS_EXPIRED') return undefined;
  if (clockTrust.syncedSince !== null) return undefined;
  const what = code === 'CERT_NOT_YET_VALID' ? 'not yet valid' : 'expired';
  return (
    `TLS: broker certificate ${what} by this machine's clock (${new Date().toISOString()}), which is not ` +
    `synchronized (NTP): the clock is probably wrong, not the certificate. Check that NTP can reach a ` +
    `server; fake-hwclock or an RTC keeps the time closer across power cuts (${code})`
  );
}
