/** MQTT 3.1.1 CONNACK return codes in words (MQTT 5 reason codes can be added beside them). */
const CONNACK_3_1_1: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

export function connackReason(code: number): string {
  return CONNACK_3_1_1[code] ?? `unknown return code ${code}`;
}

/** Refusals that retrying soon will not fix: back off long (see Backoff.long). */
export function isConfigRefusal(code: number): boolean {
  return code === 1 || code === 2 || code === 4 || code === 5;
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
  return { reason: tls ? `TLS: ${msg}${code && !msg.includes(code) ? ` (${code})` : ''}` : msg, tls };
}
