/**
 * `fieldgate remote` exit codes, for scripts (docs/remote-management.md lists them). Each failure
 * class has its own code so a script can tell "fix the file" from "try again later".
 */
export const EXIT = {
  ok: 0,
  /** Bad flags, an unreadable file, a bad operator config. */
  usage: 1,
  /** The config does not validate (locally, or the gateway answered `invalid`). */
  invalid: 2,
  /** The gateway refused: conflict, busy, refused, unknown_request or error. */
  refused: 3,
  /** The change was applied, then rolled back (or failed) by the gateway. */
  rolledBack: 4,
  /** No answer in time: the gateway is offline or does not listen (remote.enabled, the ACL). */
  noAnswer: 5,
  /** The broker could not be reached, refused the credentials or a subscription. */
  broker: 6,
} as const;

/** The exit code for a gateway's answer code. */
export function exitForCode(code: string): number {
  if (code === 'ok' || code === 'pending') return EXIT.ok;
  if (code === 'invalid') return EXIT.invalid;
  return EXIT.refused;
}
